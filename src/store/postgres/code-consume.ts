// PostgreSQL: a code's consume and its grant's ID-token context in one statement.
import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';
import { consumeCode, toCode } from '../codes.js';
import { ID_TOKEN_CONTEXT_COLUMNS, toIdTokenContext } from '../grants.js';
import { precompiled } from '../sqlite/precompiled.js';
import type { AuthorizationCode, IdTokenContext } from '../../oauth/model.js';

/**
 * An OpenID code exchange consumes its code, then reads the grant's user and login for the ID
 * token (tx.grants.findIdTokenContext), a statement that waits for the consume's answer: a
 * round trip of its own in every group. Here the consume is a data-modifying CTE joined to the
 * grant, its user and organization, so the context comes back with the code; the caller keeps
 * it for the findIdTokenContext that follows (see docs/PERFORMANCE.md, pg-code-with-context).
 * A plain OAuth exchange pays the joins (primary-key lookups) and ignores them.
 */
export async function consumeCodeWithContext(db: Kysely<Database>, now: number, codeHash: string, clientId: number): Promise<{ code: AuthorizationCode; context: IdTokenContext | undefined } | undefined> {
  const [row] = await consumeWithContextQuery(db, now, codeHash, clientId);
  if (!row) return undefined;
  return { code: toCode(row), context: toIdTokenContext(row) };
}

const consumeWithContextQuery = precompiled((db, now: number, codeHash: string, clientId: number) =>
  db.with('c', (w) => consumeCode(w, now, codeHash, clientId))
    .selectFrom('c').innerJoin('grants as g', 'g.id', 'c.grant_id').leftJoin('users as u', 'u.id', 'g.user_id')
    .leftJoin('organizations as o', 'o.id', 'g.organization_id')
    .selectAll('c').select(ID_TOKEN_CONTEXT_COLUMNS));
