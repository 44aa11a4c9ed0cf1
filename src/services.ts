// The stores, clock, config and logger one running server (or one CLI command) works with.
// Built once at start; handed to routes and grant handlers as the narrow slices they need.
import pino, { type Logger } from 'pino';
import type { Config } from './config/load.js';
import { createBruteForceGuard, type FailureCounters } from './accounts/backoff.js';
import type { AccountServices } from './accounts/services.js';
import { systemClock, type Clock } from './oauth/clock.js';
import type { Store } from './store/db.js';
import { ClientStore } from './store/clients.js';
import { GrantStore } from './store/grants.js';
import { FactorStore } from './store/factors.js';
import { SigningKeyStore } from './store/keys.js';
import { SigningKeys } from './oauth/signing-keys.js';
import { ID_TOKEN_TTL } from './oauth/id-token.js';
import { OrganizationStore } from './store/orgs.js';
import { InvitationStore } from './store/invitations.js';
import { PasswordResetStore } from './store/password-resets.js';
import { SessionStore } from './store/sessions.js';
import { AccessTokenStore } from './store/access-tokens.js';
import { CodeStore } from './store/codes.js';
import { RefreshTokenStore } from './store/refresh-tokens.js';
import { UserStore } from './store/users.js';
import { transactionRunner, type RunInTransaction } from './store/transaction.js';
import { MailQueueStore } from './store/mail-queue.js';
import { RegistrationTokenStore } from './store/registration-tokens.js';
import { EmailTokenStore } from './store/email-tokens.js';
import { ResourceStore } from './store/resources.js';
import { MailQueue } from './accounts/mail/queue.js';
import { devChecksEnabled, guardRootStore, markWorks } from './store/dev-checks.js';
import { ClientAssertionStore } from './store/client-assertions.js';
import type { ClientAssertionDeps } from './oauth/client-assertion.js';
import type { OwnedRevocations } from './oauth/ports.js';
import { fetchJson } from './net/fetch-json.js';
import { JwksCache } from './net/jwks-cache.js';
import { ClientIdDocuments, withClientIdDocuments } from './net/client-id-documents.js';

/** Everything a server needs: the slice the account rules use (accounts/services.ts) and the rest. */
export interface Services extends AccountServices {
  codes: CodeStore;
  accessTokens: AccessTokenStore;
  refreshTokens: RefreshTokenStore;
  sessions: SessionStore;
  /**
   * Atomic writes for the token endpoint and revocation: one per process, so that on SQLite
   * every such write shares the same group commit (store/sqlite/group-commit.ts).
   */
  transaction: RunInTransaction;
  /** PostgreSQL: a revocation's lookup and writes as one statement, batched (store/postgres/revocations.ts); undefined on SQLite. */
  revocations: OwnedRevocations | undefined;
  /** JWT signing keys, RS256 and ES256 (cached; see oauth/signing-keys.ts). */
  signingKeys: SigningKeys;
  /** Initial access tokens for dynamic client registration (RFC 7591 §3, registration `token`). */
  registrationTokens: RegistrationTokenStore;
  /** What client assertions (private_key_jwt, client_secret_jwt) are verified with: the jti store, the jwks_uri cache. */
  clientAssertions: ClientAssertionDeps & { jwks: JwksCache };
}

export interface ServiceOptions {
  clock?: Clock;
  logger?: Logger;
  /** The brute-force counters to use when there is no Redis (a worker of `serve --workers`: the primary's). */
  counters?: FailureCounters;
}

export function createServices(config: Config, store: Store, options: ServiceOptions = {}): Services {
  const { db } = store;
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? pino({ level: 'silent' });
  // LATCHKEY_DEV_CHECKS=1 (the tests): a root store called from inside a transaction work
  // throws (store/dev-checks.ts). Off, the stores and the runner are the plain ones.
  const checks = devChecksEnabled();
  const root = checks ? guardRootStore : <T extends object>(s: T, _name: string): T => s;
  const transaction = transactionRunner(store);
  const mailQueue = new MailQueueStore(db, store.dialect);
  const fetchJsonAsConfigured = (url: string) => fetchJson(url, { allowLoopback: config.allowLoopbackFetch });
  const clientStore = root(new ClientStore(db, store.changes), 'services.clients');
  // Config client_id_metadata_documents: an unknown https client_id is looked up as a document.
  const clients = config.clientIdMetadataDocuments
    ? withClientIdDocuments(clientStore, new ClientIdDocuments(clientStore, { clock, fetch: fetchJsonAsConfigured, scopes: () => config.scopes, logger, allowLoopback: config.allowLoopbackFetch }))
    : clientStore;
  return {
    config,
    clock,
    store,
    logger,
    users: root(new UserStore(db), 'services.users'),
    orgs: root(new OrganizationStore(db), 'services.orgs'),
    invitations: root(new InvitationStore(db), 'services.invitations'),
    clients,
    grants: root(new GrantStore(db), 'services.grants'),
    factors: root(new FactorStore(db), 'services.factors'),
    passwordResets: root(new PasswordResetStore(db), 'services.passwordResets'),
    codes: root(new CodeStore(db), 'services.codes'),
    accessTokens: root(new AccessTokenStore(db, store.changes), 'services.accessTokens'),
    refreshTokens: root(new RefreshTokenStore(db), 'services.refreshTokens'),
    sessions: root(new SessionStore(db), 'services.sessions'),
    transaction: checks ? markWorks(transaction) : transaction,
    revocations: store.revocations,
    signingKeys: new SigningKeys(root(new SigningKeyStore(db), 'signing keys'), {
      encryptionKey: config.encryptionKey, clock, accessTokenTtl: config.accessTokenTtl, idTokenTtl: ID_TOKEN_TTL, publishLead: config.keyPublishLead,
    }),
    registrationTokens: root(new RegistrationTokenStore(db), 'services.registrationTokens'),
    clientAssertions: {
      assertions: root(new ClientAssertionStore(db), 'services.clientAssertions'),
      jwks: new JwksCache({ clock, fetch: fetchJsonAsConfigured }),
      clock,
      config,
    },
    mail: new MailQueue(mailQueue, clock, config.encryptionKey),
    mailQueue,
    emailTokens: new EmailTokenStore(db),
    resources: root(new ResourceStore(db, store.changes), 'services.resources'),
    guard: createBruteForceGuard(config, clock, (err) => logger.warn({ err }, 'brute-force counters unreachable; not limiting'), options.counters),
  };
}
