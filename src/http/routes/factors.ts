// Second factors and passkeys (SPEC.md "Accounts: e-mail, recovery, second factors").
//
// Login: a right password on an account with an authenticator app or a passkey does not make
// a session. It makes a pending login instead — a row in login_challenges named by the
// lk_pending cookie (random, only its SHA-256 stored), five minutes long, not a session: it
// opens no page but /login/factor. There the person gives an authenticator code, a recovery
// code or a passkey; each attempt goes through the brute-force guard like a password
// (reserveFactor: counted before it is checked, bounded in flight, refunded when right), and
// the pending login is consumed (one UPDATE … RETURNING) by the one attempt that succeeds.
// "Sign in with a passkey" skips the password altogether (a discoverable credential).
//
// Account page: set up or remove the authenticator app (a QR code and the key as text; the
// first code confirms it), add or remove passkeys, make new recovery codes (shown once).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import QRCode from 'qrcode';
import { audit } from '../../audit.js';
import {
  checkTotp, combineAmr, groupSecret, PENDING_LOGIN_SECONDS, pendingTotpSecret, replaceRecoveryCodes, startTotpEnrolment, totpUri, useRecoveryCode,
} from '../../accounts/factors.js';
import { authenticationOptions, finishAuthentication, finishRegistration, PasskeyError, registrationOptions } from '../../accounts/passkeys.js';
import { newSecret, sha256Hex } from '../../oauth/crypto.js';
import { nowSeconds } from '../../oauth/clock.js';
import { lockoutMessage, type Lockout } from '../../oauth/lockout.js';
import { pageTranslator, passkeyErrorText } from '../locale.js';
import { waitText, type Translator } from '../../i18n/index.js';
import type { User } from '../../oauth/model.js';
import type { ChallengeRecord } from '../../store/factors.js';
import type { Services } from '../../services.js';
import { factorPage, recoveryCodesPage, securitySection, totpSetupPage, type SecuritySummary } from '../../views/factors.js';
import type { Html } from '../../html.js';
import { loginPage } from '../../views/login.js';
import { formValue, PAGE_ROUTE, sendPage, sessionUser } from '../pages.js';
import { PASSKEY_PAGE_POLICY } from '../plugins/security-headers.js';
import { cookieName, formCsrfToken, requireCsrf, requireUser, safeNext, startUserSession } from '../session.js';

export const PENDING_COOKIE = 'lk_pending';
const JSON_ROUTE = { config: { errorFormat: 'json' as const } };

export const WRONG_CODE_MESSAGE = 'That code is not right. Check your authenticator app and try again.';
export const REPLAYED_CODE_MESSAGE = 'That code was used already. Wait for the next code in your authenticator app.';
export const WRONG_RECOVERY_MESSAGE = 'That recovery code is not right or was used already.';
/** The second step's refusals (catalogue keys; English as the constants above). */
type FactorMessageKey = 'factors.error.wrongCode' | 'factors.error.replayedCode' | 'factors.error.wrongRecovery';
type FactorError = FactorMessageKey | Lockout;
/**
 * Seconds after a login in which its session may change the account's factors (Keycloak's
 * "maximum authentication age" for the same actions): later, the person signs in again first,
 * so a session left open (or stolen) cannot quietly add its own passkey or remove the app.
 */
export const RECENT_LOGIN_SECONDS = 300;
const REAUTH_PATH = `/login?next=${encodeURIComponent('/account#security')}`;

/** A lockout (oauth/lockout.ts lockoutMessage words it in English) in the page's language. */
export function lockoutText(tr: Translator, lockout: Lockout): string {
  const { t } = tr;
  const wait = waitText(tr, lockout.retryAfter);
  switch (lockout.subject) {
    case 'in_flight': return t('login.error.tooManyAtOnce', { wait });
    case 'password_change': return t('account.error.tooManyPasswordChanges', { wait });
    case 'client': return lockoutMessage(lockout);
    default: return t('login.error.tooManyFailed', { wait });
  }
}

/** The account page's "Sign-in security" section, for the account route. */
export async function securityFor(services: Services, userId: number, csrfToken: string, errors?: SecuritySummary['errors'], t?: Translator): Promise<Html> {
  const totp = await services.factors.findTotp(userId);
  const passkeys = await services.factors.listPasskeys(userId);
  const summary: SecuritySummary = {
    totpEnabled: totp?.confirmedAt != null, passkeys, recoveryCodesLeft: await services.factors.countUnusedRecoveryCodes(userId), ...(errors ? { errors } : {}),
  };
  return securitySection(summary, csrfToken, t);
}

function pendingCookieOptions(request: FastifyRequest, maxAge?: number) {
  return {
    path: '/', httpOnly: true, sameSite: 'lax' as const, secure: request.server.services.config.issuer.startsWith('https:'),
    ...(maxAge === undefined ? {} : { maxAge }),
  };
}

/**
 * After a right password: a pending login when the account has a second factor (the caller
 * then sends the person to /login/factor), else nothing. Returns whether one was started.
 */
export async function startPendingLogin(request: FastifyRequest, reply: FastifyReply, user: User, next: string): Promise<boolean> {
  const { services } = request.server;
  if (!(await services.factors.hasSecondFactor(user.id))) return false;
  const secret = newSecret();
  const now = nowSeconds(services.clock);
  await services.factors.insertChallenge(sha256Hex(`pending:${secret}`), {
    kind: 'pending_login', userId: user.id, challenge: null, amr: ['pwd'], next, createdAt: now, expiresAt: now + PENDING_LOGIN_SECONDS,
  });
  reply.setCookie(cookieName(services.config, PENDING_COOKIE), secret, pendingCookieOptions(request, PENDING_LOGIN_SECONDS));
  return true;
}

interface Pending {
  idHash: string;
  record: ChallengeRecord & { userId: number };
}

async function loadPending(request: FastifyRequest): Promise<Pending | null> {
  const { services } = request.server;
  const raw = request.cookies[cookieName(services.config, PENDING_COOKIE)];
  if (raw === undefined || !/^[A-Za-z0-9_-]{43}$/.test(raw)) return null;
  const idHash = sha256Hex(`pending:${raw}`);
  const record = await services.factors.findChallenge(idHash, 'pending_login', nowSeconds(services.clock));
  if (!record || record.userId === null) return null;
  return { idHash, record: { ...record, userId: record.userId } };
}

/**
 * The second factor was right: the pending login is consumed (by exactly one request) and
 * becomes a session. null when another request consumed it first, or it ran out.
 */
async function completePending(request: FastifyRequest, reply: FastifyReply, pending: Pending, amr: string[]): Promise<{ user: User; next: string } | null> {
  const { services } = request.server;
  const record = await services.factors.consumeChallenge(pending.idHash, 'pending_login', nowSeconds(services.clock));
  reply.clearCookie(cookieName(services.config, PENDING_COOKIE), pendingCookieOptions(request));
  if (!record || record.userId !== pending.record.userId) return null;
  const user = await services.users.findById(pending.record.userId);
  if (!user) return null;
  await startUserSession(request, reply, user, amr);
  return { user, next: safeNext(record.next ?? '/account', services.config.issuer) };
}

function sendJson(reply: FastifyReply, status: number, body: Record<string, unknown>): FastifyReply {
  return reply.code(status).header('Cache-Control', 'no-store').send(body);
}

function jsonField(body: unknown, name: string): unknown {
  return body !== null && typeof body === 'object' ? (body as Record<string, unknown>)[name] : undefined;
}


export async function factorRoutes(app: FastifyInstance): Promise<void> {
  const { services } = app;

  /** The pending login is gone (ran out, or used by another request): start again. */
  async function sendExpired(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const csrfToken = await formCsrfToken(request, reply);
    const t = pageTranslator(request);
    reply.header('Content-Security-Policy', PASSKEY_PAGE_POLICY);
    return sendPage(reply, loginPage({ csrfToken, next: '/account', error: t.t('factors.error.expired'), signupOpen: services.config.signup, t }), 400);
  }

  async function sendFactorPage(request: FastifyRequest, reply: FastifyReply, pending: Pending, error: FactorError | null, status = 200): Promise<FastifyReply> {
    const csrfToken = await formCsrfToken(request, reply);
    const totp = await services.factors.findTotp(pending.record.userId);
    const passkeys = await services.factors.listPasskeys(pending.record.userId);
    const t = await pendingTranslator(request, pending);
    reply.header('Content-Security-Policy', PASSKEY_PAGE_POLICY);
    const message = error === null ? null : typeof error === 'string' ? t.t(error) : lockoutText(t, error);
    return sendPage(reply, factorPage({ csrfToken, hasTotp: totp?.confirmedAt != null, hasPasskey: passkeys.length > 0, error: message, t }), status);
  }

  /** The language of the second step: the pending account's, else the authorization request's (in `next`), else the browser's. */
  async function pendingTranslator(request: FastifyRequest, pending: Pending): Promise<Translator> {
    const user = await services.users.findById(pending.record.userId);
    return pageTranslator(request, { user, next: pending.record.next });
  }

  // --- the second step of a login ----------------------------------------------------------

  app.get('/login/factor', PAGE_ROUTE, async (request, reply) => {
    const pending = await loadPending(request);
    if (!pending) return reply.redirect('/login', 303);
    return sendFactorPage(request, reply, pending, null);
  });

  app.post('/login/factor', PAGE_ROUTE, async (request, reply) => {
    if (!(await requireCsrf(request, reply))) return reply;
    const pending = await loadPending(request);
    if (!pending) {
      return sendExpired(request, reply);
    }
    const userId = pending.record.userId;
    const code = formValue(request.body, 'code');
    const recovery = formValue(request.body, 'recovery_code');
    const kind = code === '' && recovery !== '' ? 'recovery_code' : 'totp';
    const reservation = await services.guard.reserveFactor(userId, request.ip);
    if (!reservation.granted) {
      const { lockout } = reservation;
      audit(request.log, 'login.locked', { user_id: userId, address: request.ip, reason: `factor_${lockout.subject}`, retry_after: lockout.retryAfter });
      reply.header('Retry-After', String(lockout.retryAfter));
      return sendFactorPage(request, reply, pending, lockout, 429);
    }
    const ticket = reservation.ticket;
    try {
      let message: FactorMessageKey | null = null;
      if (kind === 'totp') {
        const outcome = await checkTotp(services, userId, code);
        if (outcome === 'replayed') message = 'factors.error.replayedCode';
        else if (outcome === 'wrong') message = 'factors.error.wrongCode';
      } else if (!(await useRecoveryCode(services, userId, recovery))) {
        message = 'factors.error.wrongRecovery';
      }
      if (message === null) {
        await ticket.succeeded();
        const done = await completePending(request, reply, pending, combineAmr(pending.record.amr, kind === 'totp' ? 'otp' : 'recovery'));
        if (!done) return sendExpired(request, reply);
        audit(request.log, 'factor.used', { user_id: userId, address: request.ip, reason: kind });
        audit(request.log, 'login.succeeded', { user_id: userId, address: request.ip, reason: kind });
        return reply.redirect(done.next, 303);
      }
      audit(request.log, 'factor.failed', { user_id: userId, address: request.ip, reason: kind === 'totp' && message === 'factors.error.replayedCode' ? 'totp_replayed' : kind });
      const started = ticket.lockoutIfWrong;
      if (started) {
        audit(request.log, 'login.locked', { user_id: userId, address: request.ip, reason: `factor_${started.subject}`, retry_after: started.retryAfter });
        reply.header('Retry-After', String(started.retryAfter));
        return sendFactorPage(request, reply, pending, started, 429);
      }
      return sendFactorPage(request, reply, pending, message, 401);
    } finally {
      await ticket.failed();
    }
  });

  app.post('/login/factor/passkey/options', JSON_ROUTE, async (request, reply) => {
    if (!(await requireCsrf(request, reply))) return reply;
    const pending = await loadPending(request);
    if (!pending) return sendJson(reply, 400, { error: pageTranslator(request).t('factors.error.expired') });
    return sendJson(reply, 200, { ...(await authenticationOptions(services, pending.record.userId)) });
  });

  app.post('/login/factor/passkey/verify', JSON_ROUTE, async (request, reply) => {
    if (!(await requireCsrf(request, reply))) return reply;
    const pending = await loadPending(request);
    if (!pending) return sendJson(reply, 400, { error: pageTranslator(request).t('factors.error.expired') });
    const userId = pending.record.userId;
    const tr = await pendingTranslator(request, pending);
    const reservation = await services.guard.reserveFactor(userId, request.ip);
    if (!reservation.granted) {
      reply.header('Retry-After', String(reservation.lockout.retryAfter));
      return sendJson(reply, 429, { error: lockoutText(tr, reservation.lockout) });
    }
    const ticket = reservation.ticket;
    try {
      const login = await finishAuthentication(services, jsonField(request.body, 'response'), userId);
      await ticket.succeeded();
      const done = await completePending(request, reply, pending, combineAmr(pending.record.amr, login.method));
      if (!done) return sendJson(reply, 400, { error: tr.t('factors.error.expired') });
      audit(request.log, 'factor.used', { user_id: userId, address: request.ip, reason: 'passkey' });
      audit(request.log, 'login.succeeded', { user_id: userId, address: request.ip, reason: 'passkey' });
      return sendJson(reply, 200, { redirect: done.next });
    } catch (err) {
      if (!(err instanceof PasskeyError)) throw err;
      audit(request.log, 'factor.failed', { user_id: userId, address: request.ip, reason: 'passkey' });
      return sendJson(reply, 400, { error: passkeyErrorText(tr, err) });
    } finally {
      await ticket.failed();
    }
  });

  // --- "Sign in with a passkey": no password ----------------------------------------------

  app.post('/login/passkey/options', JSON_ROUTE, async (request, reply) => {
    if (!(await requireCsrf(request, reply))) return reply;
    return sendJson(reply, 200, { ...(await authenticationOptions(services, null)) });
  });

  app.post('/login/passkey/verify', JSON_ROUTE, async (request, reply) => {
    if (!(await requireCsrf(request, reply))) return reply;
    const next = safeNext(jsonField(request.body, 'next'), services.config.issuer);
    try {
      const login = await finishAuthentication(services, jsonField(request.body, 'response'), null);
      const user = await services.users.findById(login.userId);
      if (!user) return sendJson(reply, 400, { error: pageTranslator(request, { next }).t('factors.error.passkeyUnknown') });
      await startUserSession(request, reply, user, combineAmr([login.method], null, login.userVerified));
      audit(request.log, 'factor.used', { user_id: user.id, address: request.ip, reason: 'passkey_first_factor' });
      audit(request.log, 'login.succeeded', { user_id: user.id, address: request.ip, reason: 'passkey' });
      return sendJson(reply, 200, { redirect: next });
    } catch (err) {
      if (!(err instanceof PasskeyError)) throw err;
      audit(request.log, 'login.failed', { user_id: null, address: request.ip, reason: 'passkey' });
      return sendJson(reply, 400, { error: passkeyErrorText(pageTranslator(request, { next }), err) });
    }
  });

  // --- the account page ----------------------------------------------------------------------

  function recentLogin(session: { authTime: number | null }): boolean {
    return session.authTime !== null && nowSeconds(services.clock) - session.authTime <= RECENT_LOGIN_SECONDS;
  }

  /**
   * The signed-in user of a form POST after its CSRF check, or null (answered). A login older
   * than RECENT_LOGIN_SECONDS is sent to confirm it is them (the login page) first.
   */
  async function formUser(request: FastifyRequest, reply: FastifyReply): Promise<{ user: User; csrfToken: string } | null> {
    const csrf = await requireCsrf(request, reply);
    if (!csrf) return null;
    const session = await sessionUser(csrf, reply, '/account');
    if (!session) return null;
    if (!recentLogin(session)) {
      await reply.redirect(REAUTH_PATH, 303);
      return null;
    }
    return { user: session.user, csrfToken: session.csrfToken };
  }

  /** The signed-in, recently logged-in user of a JSON call, or null (answered). */
  async function jsonUser(request: FastifyRequest, reply: FastifyReply): Promise<User | null> {
    const csrf = await requireCsrf(request, reply);
    if (!csrf) return null;
    if (!csrf.user) {
      await sendJson(reply, 401, { error: pageTranslator(request, { user: null }).t('factors.error.signInToAdd') });
      return null;
    }
    if (!recentLogin(csrf)) {
      await sendJson(reply, 401, { error: pageTranslator(request, { user: csrf.user }).t('factors.error.stale'), redirect: REAUTH_PATH });
      return null;
    }
    return csrf.user;
  }

  /** After a factor is removed: without any factor left, the recovery codes go too. */
  async function dropCodesWithoutFactor(userId: number): Promise<void> {
    if (!(await services.factors.hasSecondFactor(userId))) await services.factors.deleteRecoveryCodes(userId);
  }

  async function showTotpSetup(request: FastifyRequest, reply: FastifyReply, user: User, csrfToken: string, secret: string, error?: 'factors.totp.wrongCode' | Lockout, status = 200): Promise<FastifyReply> {
    const t = pageTranslator(request, { user });
    const message = error === undefined ? undefined : typeof error === 'string' ? t.t(error) : lockoutText(t, error);
    const issuerHost = new URL(services.config.issuer).host;
    const uri = totpUri(secret, `Latchkey (${issuerHost})`, user.email);
    const qrDataUrl = await QRCode.toDataURL(uri, { errorCorrectionLevel: 'M', margin: 2, width: 200 });
    return sendPage(reply, totpSetupPage({ userName: user.name, csrfToken, secretText: groupSecret(secret), qrDataUrl, error: message, t }), status);
  }

  async function showNewRecoveryCodes(request: FastifyRequest, reply: FastifyReply, user: User, csrfToken: string, intro: 'account.notice.totp' | 'factors.recovery.newReady'): Promise<FastifyReply> {
    const t = pageTranslator(request, { user });
    const address = request.ip;
    const codes = await replaceRecoveryCodes(services, user.id);
    audit(app.log, 'factor.enrolled', { user_id: user.id, address, reason: 'recovery_codes', count: codes.length });
    return sendPage(reply, recoveryCodesPage({ userName: user.name, csrfToken, codes, intro: t.t(intro), t }));
  }

  app.post('/account/totp/start', PAGE_ROUTE, async (request, reply) => {
    const who = await formUser(request, reply);
    if (!who) return reply;
    const secret = await startTotpEnrolment(services, who.user.id);
    if (secret === null) return reply.redirect('/account#security', 303);
    return reply.redirect('/account/totp', 303);
  });

  app.get('/account/totp', PAGE_ROUTE, async (request, reply) => {
    const session = await requireUser(request, reply);
    if (!session) return reply;
    if (!recentLogin(session)) return reply.redirect(REAUTH_PATH, 303);
    const secret = await pendingTotpSecret(services, session.user.id);
    if (secret === null) return reply.redirect('/account#security', 303);
    return showTotpSetup(request, reply, session.user, session.csrfToken, secret);
  });

  app.post('/account/totp/confirm', PAGE_ROUTE, async (request, reply) => {
    const who = await formUser(request, reply);
    if (!who) return reply;
    const { user, csrfToken } = who;
    const secret = await pendingTotpSecret(services, user.id);
    if (secret === null) return reply.redirect('/account#security', 303);
    const reservation = await services.guard.reserveFactor(user.id, request.ip);
    if (!reservation.granted) {
      reply.header('Retry-After', String(reservation.lockout.retryAfter));
      return showTotpSetup(request, reply, user, csrfToken, secret, reservation.lockout, 429);
    }
    const ticket = reservation.ticket;
    try {
      const outcome = await checkTotp(services, user.id, formValue(request.body, 'code'), true);
      if (outcome !== 'ok') {
        audit(request.log, 'factor.failed', { user_id: user.id, address: request.ip, reason: 'totp_enrolment' });
        return showTotpSetup(request, reply, user, csrfToken, secret, 'factors.totp.wrongCode', 400);
      }
      await ticket.succeeded();
      audit(request.log, 'factor.enrolled', { user_id: user.id, address: request.ip, reason: 'totp' });
      if ((await services.factors.countUnusedRecoveryCodes(user.id)) > 0) return reply.redirect('/account?done=totp#security', 303);
      return showNewRecoveryCodes(request, reply, user, csrfToken, 'account.notice.totp');
    } finally {
      await ticket.failed();
    }
  });

  app.post('/account/totp/remove', PAGE_ROUTE, async (request, reply) => {
    const who = await formUser(request, reply);
    if (!who) return reply;
    if ((await services.factors.deleteTotp(who.user.id)) > 0) {
      audit(request.log, 'factor.removed', { user_id: who.user.id, address: request.ip, reason: 'totp' });
      await dropCodesWithoutFactor(who.user.id);
    }
    return reply.redirect('/account?done=totp_removed#security', 303);
  });

  app.post('/account/recovery-codes', PAGE_ROUTE, async (request, reply) => {
    const who = await formUser(request, reply);
    if (!who) return reply;
    if (!(await services.factors.hasSecondFactor(who.user.id))) return reply.redirect('/account#security', 303);
    return showNewRecoveryCodes(request, reply, who.user, who.csrfToken, 'factors.recovery.newReady');
  });

  app.post('/account/passkeys/options', JSON_ROUTE, async (request, reply) => {
    const user = await jsonUser(request, reply);
    if (!user) return reply;
    try {
      return sendJson(reply, 200, { ...(await registrationOptions(services, user)) });
    } catch (err) {
      if (!(err instanceof PasskeyError)) throw err;
      return sendJson(reply, 400, { error: passkeyErrorText(pageTranslator(request, { user }), err) });
    }
  });

  app.post('/account/passkeys/verify', JSON_ROUTE, async (request, reply) => {
    const user = await jsonUser(request, reply);
    if (!user) return reply;
    const name = jsonField(request.body, 'name');
    try {
      await finishRegistration(services, user, jsonField(request.body, 'response'), typeof name === 'string' && !name.includes('\0') ? name : '');
    } catch (err) {
      if (!(err instanceof PasskeyError)) throw err;
      audit(request.log, 'factor.failed', { user_id: user.id, address: request.ip, reason: 'passkey_enrolment' });
      return sendJson(reply, 400, { error: passkeyErrorText(pageTranslator(request, { user }), err) });
    }
    audit(request.log, 'factor.enrolled', { user_id: user.id, address: request.ip, reason: 'passkey' });
    const needsCodes = (await services.factors.countUnusedRecoveryCodes(user.id)) === 0;
    return sendJson(reply, 200, { redirect: '/account?done=passkey#security', ...(needsCodes ? { submit: 'recovery-create' } : {}) });
  });

  app.post('/account/passkeys/remove', PAGE_ROUTE, async (request, reply) => {
    const who = await formUser(request, reply);
    if (!who) return reply;
    if (await services.factors.deletePasskey(who.user.id, formValue(request.body, 'credential_id'))) {
      audit(request.log, 'factor.removed', { user_id: who.user.id, address: request.ip, reason: 'passkey' });
      await dropCodesWithoutFactor(who.user.id);
    }
    return reply.redirect('/account?done=passkey_removed#security', 303);
  });
}
