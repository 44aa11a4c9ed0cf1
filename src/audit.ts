// The audit trail: one structured pino line per security-relevant event, with who (user id),
// which client, and from where (address). Never a secret: the field types below admit no
// token, code, password or client secret, and logging.ts redacts those names besides.
//
// Every line carries `"audit":true` and an `event` name, so a log pipeline can pick them out:
//   login.succeeded / login.failed / login.locked      the login page (and the password grant)
//   consent.granted / consent.denied                   the consent page
//   logout.rp_initiated                                /oauth/logout ended a signed-in session (RP-Initiated Logout)
//   token.issued                                       the token endpoint, every grant
//   code.reuse_detected / refresh.reuse_detected       a replay; the grant is revoked
//   refresh.retried                                    a retry inside refresh_retry_window
//   token.revoked / grant.revoked                      RFC 7009 revocation, a user disconnecting an app
//   client.secret_reset                                the developer portal or the CLI
//   client.registered / client.registration_refused    RFC 7591 dynamic registration (`kind` open or token;
//                                                      a refusal's `reason` is its RFC 7591 error code)
//   registration.token_created                         `latchkey registration token create`
//   client.created / client.updated / client.deleted   the developer portal or the CLI (address "cli")
//   client_auth.failed / client_auth.locked            failed client authentication, backoff
//   client_auth.assertion_replayed                     a client assertion's jti presented again (RFC 7523 §3)
//   password.changed                                   the account page; every grant revoked
//   email.changed                                      the account page (never the address itself)
//   password.reset_requested / .reset_limited           "Forgot password?" (user_id null: no such account)
//   password.reset / password.reset_refused             a reset link used (every session and grant ended) / refused
//   session.ended_others                               "Sign out everywhere else" on the account page
//   org.invitation.created / .accepted / .declined / .cancelled   organization invitations
//   org.member.removed / org.role.changed              an admin (or the member leaving)
//   factor.enrolled / factor.removed                   the account page: an authenticator app, a passkey or
//                                                      new recovery codes (`reason` says which)
//   factor.used / factor.failed                        a second factor (or a passkey sign-in) at login
//   factor.reset                                       `latchkey user reset-factors` (address "cli")
//   mail.sent / mail.deferred / mail.failed            the mail sender (accounts/mail/sender.ts): never the address or the body
//   email.verification_sent / email.verified          e-mail verification (accounts/email-verification.ts)
//   email.change_requested                             a new address waits for its confirmation link
//   resource.created / resource.deleted                `latchkey resource create|delete` (RFC 8707; address "cli")
//   login.acr_unmet                                    an essential acr the session does not meet (`reason`:
//                                                      `step_up`, a new sign-in asked; `denied`, access_denied)

export type AuditEvent =
  | 'login.succeeded'
  | 'login.failed'
  | 'login.locked'
  | 'consent.granted'
  | 'consent.denied'
  | 'logout.rp_initiated'
  | 'token.issued'
  | 'code.reuse_detected'
  | 'refresh.reuse_detected'
  | 'refresh.retried'
  | 'token.revoked'
  | 'grant.revoked'
  | 'client.secret_reset'
  | 'client.created'
  | 'client.updated'
  | 'client.deleted'
  | 'client.registered'
  | 'client.registration_refused'
  | 'registration.token_created'
  | 'client_auth.failed'
  | 'client_auth.locked'
  | 'client_auth.assertion_replayed'
  | 'password.changed'
  | 'email.changed'
  | 'password.reset_requested'
  | 'password.reset_limited'
  | 'password.reset'
  | 'password.reset_refused'
  | 'session.ended_others'
  | 'org.invitation.created'
  | 'org.invitation.accepted'
  | 'org.invitation.declined'
  | 'org.invitation.cancelled'
  | 'org.member.removed'
  | 'org.role.changed'
  | 'factor.enrolled'
  | 'factor.removed'
  | 'factor.used'
  | 'factor.failed'
  | 'factor.reset'
  | 'mail.sent'
  | 'mail.deferred'
  | 'mail.failed'
  | 'email.verification_sent'
  | 'email.verified'
  | 'email.change_requested'
  | 'resource.created'
  | 'resource.deleted'
  | 'login.acr_unmet';

/** What an audit line may carry: identifiers and outcomes, never a secret. */
export interface AuditFields {
  /** The user the event is about (null: none, e.g. client_credentials). */
  user_id?: number | null;
  /** The public client_id. */
  client_id?: string | null;
  /** The caller's address as the server sees it (request.ip); "cli" for the admin command line. */
  address?: string;
  grant_id?: number | null;
  organization_id?: number | null;
  grant_type?: string;
  scope?: string;
  /** access_token / refresh_token, for revocations. */
  token_type?: string;
  /** Why a login or authentication failed, or what a revocation was for (a fixed word, not user input). */
  reason?: string;
  /** Seconds a locked-out caller must wait. */
  retry_after?: number;
  /** How many grants or tokens an action touched. */
  count?: number;
  /** How many grants a password change revoked. */
  grants_revoked?: number;
  /** How many browser sessions an action ended. */
  sessions_ended?: number;
  /** Organization events: the member acted on, the invitation, the role given. */
  member_id?: number;
  invitation_id?: number;
  role?: string;
  /** Mail events: the queued message's id, what it is for, attempts made so far. */
  mail_id?: number;
  kind?: string;
  attempts?: number;
  /** Resource events: the resource indicator (RFC 8707), an operator's URI. */
  resource?: string;
}

/** The slice of a pino (or Fastify) logger the audit trail uses. */
export interface AuditLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

// Replays and lockouts are signs of an attack: logged as warnings so they stand out.
const WARN: ReadonlySet<AuditEvent> = new Set<AuditEvent>(['code.reuse_detected', 'refresh.reuse_detected', 'login.locked', 'client_auth.locked', 'client_auth.assertion_replayed', 'mail.failed', 'password.reset_limited']);

export function audit(logger: AuditLogger, event: AuditEvent, fields: AuditFields): void {
  const line = { audit: true, event, ...fields };
  if (WARN.has(event)) logger.warn(line, event);
  else logger.info(line, event);
}
