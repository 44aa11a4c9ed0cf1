// The transaction port (src/oauth/ports.ts): a transaction's stores are a distinct type from the
// root stores, so that a work cannot be handed a root store (which would write outside its
// transaction, and on SQLite may be run twice) and a root dependency cannot be given a
// transaction's store. The `@ts-expect-error` lines below are the proof: `npm run typecheck`
// checks this file, and fails if any of them stops being an error; the test also compiles this
// file on its own with the project's options, so `node --test` alone notices as well.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import type {
  AccessTokenPort, CodePort, GrantPort, RefreshTokenPort, RootPick, RunInTransaction, TransactionStores,
} from '../../src/oauth/ports.js';
import type { CodeStore } from '../../src/store/codes.js';
import type { GrantStore } from '../../src/store/grants.js';

/** Never called: these are type-level checks only. */
export function typeChecks(root: { codes: CodePort; accessTokens: AccessTokenPort; refreshTokens: RefreshTokenPort; grants: GrantPort }, run: RunInTransaction, codeStore: CodeStore, grantStore: GrantStore): void {
  // A repository is a root store of its port.
  const asRoot: CodePort = codeStore;
  const grantsRoot: GrantPort = grantStore;
  void asRoot;
  void grantsRoot;

  // @ts-expect-error a repository is not a transaction's store until the runner binds it
  const codesTx: TransactionStores['codes'] = codeStore;
  // @ts-expect-error likewise for grants
  const grantsTx: TransactionStores['grants'] = grantStore;
  void codesTx;
  void grantsTx;

  // @ts-expect-error a set of root stores is not a transaction's stores
  const stores: TransactionStores = root;
  void stores;

  void run(async (tx) => {
    // @ts-expect-error a transaction's store cannot stand in for a root store
    const codes: CodePort = tx.codes;
    // @ts-expect-error nor a transaction's grants for the root GrantPort
    const grants: GrantPort = tx.grants;
    // @ts-expect-error not even where a dependency names only methods both have (insert, revoke)
    const narrow: RootPick<GrantPort, 'insert' | 'revoke'> = tx.grants;
    void codes;
    void grants;
    void narrow;
    // @ts-expect-error nor the other way round inside a work
    const inWork: TransactionStores['accessTokens'] = root.accessTokens;
    void inWork;
    // What a work may do: use its own stores.
    return tx.codes.consume('hash', 1, 0);
  });
}

test('a transaction\'s stores and the root stores are distinct types (the @ts-expect-error lines of this file are errors)', () => {
  const file = fileURLToPath(import.meta.url);
  const configPath = fileURLToPath(new URL('../../tsconfig.json', import.meta.url));
  const config = ts.getParsedCommandLineOfConfigFile(configPath, {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined });
  assert.ok(config, 'tsconfig.json parses');
  const program = ts.createProgram([file], { ...config.options, noEmit: true });
  const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
  // An @ts-expect-error that no longer meets an error is itself reported ("Unused '@ts-expect-error' directive").
  assert.deepEqual(diagnostics, []);
  const expected = (ts.sys.readFile(file) ?? '').split('\n').filter((line) => line.trim().startsWith('// @ts-expect-error')).length;
  assert.equal(expected, 7);
});
