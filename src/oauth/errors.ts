// OAuthError: an error that is a value with an RFC code (RFC 6749 §4.1.2.1, §5.2; RFC 6750 §3.1;
// RFC 7009 §2.2.1). The HTTP layer renders it as JSON, as a redirect with `error=` (only
// once the redirect URI is validated) or as an HTML page. `description` is safe to send;
// `debug` is only ever logged.

export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  | 'access_denied'
  | 'unsupported_response_type'
  | 'server_error'
  | 'temporarily_unavailable'
  | 'invalid_token'
  | 'insufficient_scope'
  | 'unsupported_token_type'
  | 'slow_down'
  // OpenID Connect Core §3.1.2.6: the answers to prompt=none when the user would have to act.
  | 'login_required'
  | 'consent_required'
  | 'interaction_required'
  | 'account_selection_required'
  // Core §3.1.2.6: request objects are not implemented.
  | 'request_not_supported'
  | 'request_uri_not_supported'
  // RFC 7591 §3.2.2: dynamic client registration's refusals.
  | 'invalid_redirect_uri'
  | 'invalid_client_metadata'
  | 'invalid_software_statement'
  | 'unapproved_software_statement'
  // RFC 8707 §2: a resource that is unknown, malformed, or more than the grant allows.
  | 'invalid_target';

/** Default HTTP status per code (RFC 6749 §5.2, RFC 6750 §3.1). */
const STATUS: Record<OAuthErrorCode, number> = {
  invalid_request: 400,
  invalid_client: 401,
  invalid_grant: 400,
  unauthorized_client: 400,
  unsupported_grant_type: 400,
  invalid_scope: 400,
  access_denied: 403,
  unsupported_response_type: 400,
  server_error: 500,
  temporarily_unavailable: 503,
  invalid_token: 401,
  insufficient_scope: 403,
  unsupported_token_type: 400,
  invalid_target: 400,
  slow_down: 429,
  login_required: 400,
  consent_required: 400,
  interaction_required: 400,
  account_selection_required: 400,
  request_not_supported: 400,
  request_uri_not_supported: 400,
  invalid_redirect_uri: 400,
  invalid_client_metadata: 400,
  invalid_software_statement: 400,
  unapproved_software_statement: 400,
};

export interface OAuthErrorOptions {
  status?: number;
  /** Logged, never sent. */
  debug?: string;
  cause?: unknown;
  /** invalid_client: the client tried HTTP Basic, so the answer carries WWW-Authenticate: Basic. */
  basicAuthAttempted?: boolean;
  /** Seconds, for 429 answers. */
  retryAfter?: number;
  /** A protected resource's refusal: the WWW-Authenticate value (RFC 6750 §3, oauth/bearer.ts bearerChallenge). */
  challenge?: string;
}

export class OAuthError extends Error {
  override name = 'OAuthError';
  readonly code: OAuthErrorCode;
  readonly description: string;
  status: number;
  readonly debug: string | undefined;
  readonly basicAuthAttempted: boolean;
  readonly retryAfter: number | undefined;
  readonly challenge: string | undefined;

  constructor(code: OAuthErrorCode, description: string, options: OAuthErrorOptions = {}) {
    super(`${code}: ${description}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.description = description;
    this.status = options.status ?? STATUS[code];
    this.debug = options.debug;
    this.basicAuthAttempted = options.basicAuthAttempted ?? false;
    this.retryAfter = options.retryAfter;
    this.challenge = options.challenge;
  }

  /** RFC 6749 §5.2 body. */
  toJSON(): { error: OAuthErrorCode; error_description: string } {
    return { error: this.code, error_description: wireDescription(this.description) };
  }
}

/** The longest error_description sent; a description quoting what a client sent is cut there. */
const MAX_WIRE_DESCRIPTION = 300;
const WIRE_CHARACTER = /^[\x20\x21\x23-\x5B\x5D-\x7E]$/;
const TYPOGRAPHY: Readonly<Record<string, string>> = { '§': 'section ', '…': '...', '“': "'", '”': "'", '‘': "'", '’': "'", '—': '-', '–': '-', '"': "'", '\\': '/' };

/**
 * An error description as RFC 6749 lets it travel (§4.1.2.1, §5.2): only %x20-21 / %x23-5B /
 * %x5D-7E. A description may cite a section (§) or quote what the client sent (a parameter or
 * claim name with quotes, backslashes, control characters or any Unicode): those become
 * plain ASCII (`"` and typographic quotes `'`, `\\` `/`, § "section"), anything else outside
 * the set `?`, and the text is cut at MAX_WIRE_DESCRIPTION characters. Pages show the original.
 */
export function wireDescription(description: string): string {
  let out = '';
  for (const c of description) {
    out += WIRE_CHARACTER.test(c) ? c : TYPOGRAPHY[c] ?? '?';
    if (out.length > MAX_WIRE_DESCRIPTION) return `${out.slice(0, MAX_WIRE_DESCRIPTION - 3)}...`;
  }
  return out;
}

export function isOAuthError(value: unknown): value is OAuthError {
  return value instanceof OAuthError;
}
