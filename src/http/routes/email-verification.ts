// The e-mail links (accounts/email-verification.ts): GET /verify-email?token=… shows what the
// link will do with a button (GET changes nothing: mail scanners fetch links), POST
// /verify-email uses it; GET/POST /verify-email/resend send a verification link again, with
// one answer whether or not the address has an account.
import type { FastifyInstance } from 'fastify';
import { inspectEmailLink, resendVerification, useEmailLink } from '../../accounts/email-verification.js';
import { emailLinkDonePage, emailLinkFailedPage, emailLinkPage, resendPage } from '../../views/email-verification.js';
import { formValue, PAGE_ROUTE, sendPage } from '../pages.js';
import { formCsrfToken, loadSession, requireCsrf } from '../session.js';
import { pageTranslator } from '../locale.js';

export async function emailVerificationRoutes(app: FastifyInstance): Promise<void> {
  const { services } = app;

  app.get('/verify-email', PAGE_ROUTE, async (request, reply) => {
    const query = request.query as Record<string, unknown>;
    const token = typeof query.token === 'string' ? query.token : '';
    const session = await loadSession(request);
    const link = await inspectEmailLink(services, token);
    if (!link) {
      const tr = pageTranslator(request);
      return sendPage(reply, emailLinkFailedPage({ message: tr.t('verify.failed.invalid'), signedIn: Boolean(session?.user), t: tr }), 400);
    }
    // The language of the account the link is for (else the signed-in one's, the browser's).
    const owner = await services.users.findById(link.userId);
    const t = pageTranslator(request, owner ? { user: owner } : {});
    const csrfToken = await formCsrfToken(request, reply);
    // The token is in the address: no Referer to any other site (security headers set the rest).
    reply.header('Referrer-Policy', 'no-referrer');
    return sendPage(reply, emailLinkPage({ csrfToken, token, purpose: link.purpose, email: link.email, t }));
  });

  app.post('/verify-email', PAGE_ROUTE, async (request, reply) => {
    if (!(await requireCsrf(request, reply))) return reply;
    reply.header('Referrer-Policy', 'no-referrer');
    const result = await useEmailLink(services, request.log, formValue(request.body, 'token'), request.ip);
    // Whoever is signed in (the link may have been opened in another browser, or by nobody signed in).
    const session = await loadSession(request);
    const signedIn = Boolean(session?.user);
    // The language of the account the link was for, when it was used; else the page's.
    const owner = 'userId' in result ? await services.users.findById(result.userId) : undefined;
    const tr = pageTranslator(request, owner ? { user: owner } : {});
    const { t } = tr;
    const frame = { signedIn, userName: session?.user?.name ?? null, csrfToken: session?.user ? session.csrfToken : null, t: tr };
    switch (result.outcome) {
      case 'verified':
        return sendPage(reply, emailLinkDonePage({ ...frame, title: t('verify.verified.title'), message: t('verify.verified.message', { email: result.email }) }));
      case 'changed':
        return sendPage(reply, emailLinkDonePage({ ...frame, title: t('verify.changed.title'), message: t('verify.changed.message', { email: result.email }) }));
      case 'stale':
        return sendPage(reply, emailLinkFailedPage({ message: t('verify.failed.stale'), signedIn, t: tr }), 400);
      case 'taken':
        return sendPage(reply, emailLinkFailedPage({ message: t('verify.failed.taken'), signedIn, t: tr }), 409);
      default:
        return sendPage(reply, emailLinkFailedPage({ message: t('verify.failed.invalid'), signedIn, t: tr }), 400);
    }
  });

  app.get('/verify-email/resend', PAGE_ROUTE, async (request, reply) => {
    const csrfToken = await formCsrfToken(request, reply);
    return sendPage(reply, resendPage({ csrfToken, email: '', t: pageTranslator(request) }));
  });

  app.post('/verify-email/resend', PAGE_ROUTE, async (request, reply) => {
    const session = await requireCsrf(request, reply);
    if (!session) return reply;
    // The page's language, never the language of an account the address may have.
    const t = pageTranslator(request);
    const email = formValue(request.body, 'email').trim();
    if (email === '' || email.length > 320 || !/^[^\s@]+@[^\s@]+$/.test(email)) {
      return sendPage(reply, resendPage({ csrfToken: session.csrfToken, email: '', error: t.t('verify.resend.emailMissing'), t }), 400);
    }
    const limited = await resendVerification(services, request.log, email, request.ip);
    if (limited) {
      reply.header('Retry-After', String(limited.retryAfter));
      return sendPage(reply, resendPage({ csrfToken: session.csrfToken, email, error: t.t('verify.resend.tooMany', { minutes: Math.ceil(limited.retryAfter / 60) }), t }), 429);
    }
    return sendPage(reply, resendPage({ csrfToken: session.csrfToken, email, notice: t.t('verify.resend.sent'), t }));
  });
}
