// What the account rules need from the server: the stores, the clock, the configuration and
// the brute-force guard. src/services.ts builds the whole bag (its Services has all of these),
// but accounts/ names only this slice, so that it does not import the layer above it.
import type { Logger } from 'pino';
import type { Config } from '../config/load.js';
import type { Clock } from '../oauth/clock.js';
import type { ClientStore } from '../store/clients.js';
import type { Store } from '../store/db.js';
import type { FactorStore } from '../store/factors.js';
import type { GrantStore } from '../store/grants.js';
import type { InvitationStore } from '../store/invitations.js';
import type { OrganizationStore } from '../store/orgs.js';
import type { PasswordResetStore } from '../store/password-resets.js';
import type { UserStore } from '../store/users.js';
import type { BruteForceGuard } from './backoff.js';
import type { MailQueueStore } from '../store/mail-queue.js';
import type { EmailTokenStore } from '../store/email-tokens.js';
import type { Mailer } from './mail/queue.js';
import type { ResourceStore } from '../store/resources.js';

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
  /** Second factors and passkeys (accounts/factors.ts has the rules). */
  factors: FactorStore;
  /** "Forgot password?" links, by hash (accounts/password-reset.ts has the rules). */
  passwordResets: PasswordResetStore;
  /** Brute-force backoff for passwords and client authentication (accounts/backoff.ts). */
  guard: BruteForceGuard;
  /** Queues a message (accounts/mail/queue.ts); the sender loop of a running server sends it. */
  mail: Mailer;
  /** The queue's rows, for the sender loop (accounts/mail/sender.ts). */
  mailQueue: MailQueueStore;
  /** Single-use e-mail links: verification and change of address (accounts/email-verification.ts). */
  emailTokens: EmailTokenStore;
  /** The registered resources (RFC 8707): clients may be registered with their scopes. */
  resources: ResourceStore;
}
