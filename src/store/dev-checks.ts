// Development-mode checks of the store's comment-level contracts, on only when
// LATCHKEY_DEV_CHECKS=1 (the test helpers set it; `npm start`, the bench and the `latchkey`
// binary do not, and NODE_ENV is set by none of them, so it cannot serve as the switch).
// With the flag off nothing here is installed: the root stores are the plain objects and the
// transaction runner is the one store/transaction.ts builds, so production pays nothing.
//
// The contract checked: a work handed to the transaction runner reaches the database only
// through the stores it is given (oauth/ports.ts; it may be run more than once, store/sqlite/group-commit.ts and
// store/postgres/group-commit.ts, and a root store's statement would run outside the transaction). With the flag
// on, each work runs inside an AsyncLocalStorage context, and every method of a root store
// (the Services' stores: the transaction's classes, told apart by type only, oauth/ports.ts) throws when called
// from within that context. The context follows the work's own awaits only, so requests that
// interleave with a work on the event loop are not affected.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { RunInTransaction } from './transaction.js';

/** True when the development checks are on (read when services are built, not at import). */
export function devChecksEnabled(): boolean {
  return process.env.LATCHKEY_DEV_CHECKS === '1';
}

const insideWork = new AsyncLocalStorage<true>();

export const ROOT_STORE_IN_WORK = 'root store used inside a group-commit work: use the transaction\'s stores';

/** `run` with each work marked, so that guardRootStore can tell a call made from inside one. */
export function markWorks(run: RunInTransaction): RunInTransaction {
  return (work) => run((tx) => insideWork.run(true, () => work(tx)));
}

/**
 * `store` behind a Proxy whose methods throw when called from inside a transaction work
 * (markWorks). `name` names the store in the error (e.g. "services.accessTokens").
 */
export function guardRootStore<T extends object>(store: T, name: string): T {
  return new Proxy(store, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value === 'function' && insideWork.getStore() === true) {
        throw new Error(`${ROOT_STORE_IN_WORK} (${name}.${String(property)})`);
      }
      return value;
    },
  });
}
