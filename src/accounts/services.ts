// What the account rules need from the server: the stores, the clock, the configuration and
// the brute-force guard. src/services.ts builds the whole bag (its Services has all of these),
// but accounts/ names only this slice, so that it does not import the layer above it.
import type { Logger } from 'pino';
import type { Config } from '../config/load.js';
import type { Clock } from '../oauth/clock.js';
import type { ClientStore } from '../store/clients.js';
import type { Store } from '../store/db.js';
import type { GrantStore } from '../store/grants.js';
import type { InvitationStore } from '../store/invitations.js';
import type { OrganizationStore } from '../store/orgs.js';
import type { PasswordResetStore } from '../store/password-resets.js';
import type { UserStore } from '../store/users.js';
import type { BruteForceGuard } from './backoff.js';

export interface AccountServices {
  config: Config;
  clock: Clock;
  store: Store;
  logger: Logger;
  users: UserStore;
  orgs: OrganizationStore;
  /** Invitations to organizations (accounts/organizations.ts has the rules). */
  invitations: InvitationStore;
  clients: ClientStore;
  grants: GrantStore;
  /** "Forgot password?" links, by hash (accounts/password-reset.ts has the rules). */
  passwordResets: PasswordResetStore;
  /** Brute-force backoff for passwords and client authentication (accounts/backoff.ts). */
  guard: BruteForceGuard;
}
