// An error a page shows with an explanation of its own for people, in the page's language.
// The OAuthError's English description stays what logs and JSON answers carry; the error
// handler (plugins/errors.ts) shows `say(translator)` instead on an HTML page. Protocol errors
// without one (an invalid authorization request) keep their English description on the page.
import { OAuthError, type OAuthErrorCode } from '../oauth/errors.js';
import type { Translator } from '../i18n/index.js';

export class PageError extends OAuthError {
  constructor(code: OAuthErrorCode, description: string, readonly say: (tr: Translator) => string, status = 400) {
    super(code, description, { status });
  }
}
