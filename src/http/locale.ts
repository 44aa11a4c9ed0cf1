// The language of a page (SPEC.md "Accounts…"): the signed-in account's `locale`, else the
// authorization request's `ui_locales`, else the browser's Accept-Language; English otherwise.
// The authorization request reaches the login and sign-up pages inside `next` (the whole
// /oauth/authorize URL, routes/authorize.ts returnAfterLogin), so its ui_locales is read there.
import type { FastifyRequest } from 'fastify';
import { AccountError } from '../accounts/users.js';
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from '../accounts/passwords.js';
import { ClientRegistrationError, MAX_CLIENT_NAME_LENGTH, MAX_URIS } from '../accounts/client-registration.js';
import { MAX_URI_LENGTH, type RedirectUriError } from '../oauth/redirect-uri.js';
import { INVITATIONS_PER_INVITER, INVITATIONS_PER_ORGANIZATION, MAX_ORG_NAME_LENGTH, OrganizationError } from '../accounts/organizations.js';
import { MAX_PASSKEYS, type PasskeyError } from '../accounts/passkeys.js';
import { pickLocale, translator, type Translator } from '../i18n/index.js';
import type { User } from '../oauth/model.js';

export interface PageLanguageHints {
  /** The account the page is for; by default the session's user, when the session was loaded. */
  user?: User | null | undefined;
  /** OpenID Connect `ui_locales` of the authorization request behind the page. */
  uiLocales?: string | null | undefined;
  /** A local path the page returns to; its `ui_locales` counts when `uiLocales` is not given. */
  next?: string | null | undefined;
}

/** `ui_locales` in the query of a local path such as `/oauth/authorize?…&ui_locales=nl`, or null. */
export function uiLocalesOfNext(next: string | null | undefined): string | null {
  if (typeof next !== 'string') return null;
  const q = next.indexOf('?');
  if (q === -1) return null;
  try {
    const value = new URLSearchParams(next.slice(q + 1).split('#', 1)[0] ?? '').get('ui_locales');
    return value === null || value.length > 200 ? null : value;
  } catch {
    return null;
  }
}

/** The translator for a page answering `request`. */
export function pageTranslator(request: FastifyRequest, hints: PageLanguageHints = {}): Translator {
  const user = hints.user !== undefined ? hints.user : (request.latchkeySession?.user ?? null);
  const uiLocales = hints.uiLocales ?? uiLocalesOfNext(hints.next);
  return translator(pickLocale({ accountLocale: user?.locale ?? null, uiLocales, acceptLanguage: request.headers['accept-language'] }));
}

/**
 * An account field's problem (accounts/users.ts) as a sentence in the page's language;
 * undefined for an error without a known reason (say its English message then).
 */
export function accountErrorText({ t }: Translator, err: AccountError): string | undefined {
  const value = (): string => {
    // The validators quote the refused value first (JSON), e.g. "\"x\" is not an e-mail address".
    const quoted = /^("(?:[^"\\]|\\.)*")/.exec(err.message)?.[1];
    return quoted ?? '';
  };
  switch (err.reason) {
    case 'email_control': return t('validation.email.control');
    case 'email_invalid': return t('validation.email.invalid', { value: value() });
    case 'name_empty': return t('validation.name.empty');
    case 'name_too_long': return t('validation.name.tooLong', { max: 200 });
    case 'locale_invalid': return t('validation.locale.invalid', { value: value() });
    case 'password_space': return t('validation.password.space');
    case 'password_too_short': return t('validation.password.tooShort', { min: MIN_PASSWORD_LENGTH });
    case 'password_too_long': return t('validation.password.tooLong', { max: MAX_PASSWORD_LENGTH });
    default: return undefined;
  }
}

/** "a minute" or "N minutes", as accounts/organizations.ts words an invitation wait in English. */
function minutesText({ t }: Translator, seconds: number): string {
  const n = Math.max(1, Math.ceil(seconds / 60));
  return n === 1 ? t('time.aMinute') : t('time.minutes', { count: n });
}

/**
 * An organization rule's refusal (accounts/organizations.ts) in the page's language;
 * undefined for one without a known reason (say its English message then).
 */
export function organizationErrorText(tr: Translator, err: OrganizationError): string | undefined {
  const { t } = tr;
  const wait = minutesText(tr, err.options.retryAfter ?? 60);
  switch (err.options.reason) {
    case 'role_invalid': return t('orgs.error.roleInvalid');
    case 'name_empty': return t('orgs.error.nameEmpty');
    case 'name_too_long': return t('orgs.error.nameTooLong', { max: MAX_ORG_NAME_LENGTH });
    case 'email_invalid': return t('orgs.error.emailInvalid');
    case 'already_member': return err.options.email === undefined ? undefined : t('orgs.error.alreadyMember', { email: err.options.email });
    case 'last_admin': return t('orgs.error.lastAdmin');
    case 'organization_rate_limited': return t('orgs.error.organizationRateLimited', { max: INVITATIONS_PER_ORGANIZATION, wait });
    case 'inviter_rate_limited': return t('orgs.error.inviterRateLimited', { max: INVITATIONS_PER_INVITER, wait });
    case 'admin_only_invite': return t('orgs.error.onlyAdminInvite');
    case 'admin_only_cancel': return t('orgs.error.onlyAdminCancel');
    case 'admin_only_roles': return t('orgs.error.onlyAdminRoles');
    case 'admin_only_remove': return t('orgs.error.onlyAdminRemove');
    default: return undefined;
  }
}

/** A redirect URI's refusal (oauth/redirect-uri.ts) in the page's language; undefined when its reason is unknown. */
function redirectUriText({ t }: Translator, err: RedirectUriError, postLogout: boolean): string | undefined {
  const value = err.shown ?? '';
  let problem: string;
  switch (err.problem) {
    case 'empty': return postLogout ? t('uri.postLogout.empty') : t('uri.empty');
    case 'too_long': return postLogout ? t('uri.postLogout.tooLong', { max: MAX_URI_LENGTH }) : t('uri.tooLong', { max: MAX_URI_LENGTH });
    case 'unsafe': problem = t('uri.unsafe', { value }); break;
    case 'not_absolute': problem = t('uri.notAbsolute', { value }); break;
    case 'fragment': problem = t('uri.fragment', { value }); break;
    case 'scheme': problem = t('uri.scheme', { value }); break;
    case 'userinfo': problem = t('uri.userinfo', { value }); break;
    case 'no_host': problem = t('uri.noHost', { value }); break;
    case 'https': problem = t('uri.https', { value }); break;
    default: return undefined;
  }
  return postLogout ? t('uri.postLogout.about', { problem }) : problem;
}

/**
 * A client registration's refusal (accounts/client-registration.ts) in the page's language;
 * undefined for one without a known reason (say its English message then).
 */
export function clientRegistrationErrorText(tr: Translator, err: ClientRegistrationError): string | undefined {
  const { t } = tr;
  const postLogout = err.field === 'post_logout_redirect_uris';
  switch (err.reason) {
    case 'name_empty': return t('developer.error.nameEmpty');
    case 'name_too_long': return t('developer.error.nameTooLong', { max: MAX_CLIENT_NAME_LENGTH });
    case 'no_redirect_uri': return t('developer.error.noRedirectUri');
    case 'too_many_uris': return postLogout ? t('developer.error.tooManyPostLogoutUris', { max: MAX_URIS }) : t('developer.error.tooManyRedirectUris', { max: MAX_URIS });
    case 'uri': return err.uriError === undefined ? undefined : redirectUriText(tr, err.uriError, postLogout);
    default: return undefined;
  }
}

/** A passkey ceremony's refusal (accounts/passkeys.ts) in the page's language. */
export function passkeyErrorText({ t }: Translator, err: PasskeyError): string {
  switch (err.reason) {
    case 'unreadable': return t('passkey.error.unreadable');
    case 'expired': return t('passkey.error.expired');
    case 'too_many': return t('passkey.error.tooMany', { max: MAX_PASSKEYS });
    case 'other_sign_in': return t('passkey.error.otherSignIn');
    case 'not_verified': return t('passkey.error.notVerified');
    case 'registered_already': return t('passkey.error.registeredAlready');
    case 'unknown': return t('factors.error.passkeyUnknown');
    case 'other_account': return t('passkey.error.otherAccount');
    case 'no_account': return t('passkey.error.noAccount');
  }
}
