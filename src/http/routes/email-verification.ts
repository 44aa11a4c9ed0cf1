// The e-mail links (accounts/email-verification.ts): GET /verify-email?token=… shows what the
// link will do with a button (GET changes nothing: mail scanners fetch links), POST
// /verify-email uses it; GET/POST /verify-email/resend send a verification link again, with
// one answer whether or not the address has an account.
import type { FastifyInstance } from 'fastify';
import { inspectEmailLink, resendVerification, useEmailLink } from '../../accounts/email-verification.js';
import { emailLinkDonePage, emailLinkFailedPage, emailLinkPage, resendPage } from '../../views/email-verification.js';
import { formValue, PAGE_ROUTE, sendPage } from '../pages.js';
import { formCsrfToken, loadSession, requireCsrf } from '../session.js';

const INVALID_MESSAGE = 'This link has expired or has already been used.';
const RESENT_MESSAGE = 'If an account with this address still needs to be verified, we sent it a new link. It can take a few minutes to arrive.';

export async function emailVerificationRoutes(app: FastifyInstance): Promise<void> {
  const { services } = app;

  app.get('/verify-email', PAGE_ROUTE, async (request, reply) => {
    const query = request.query as Record<string, unknown>;
    const token = typeof query.token === 'string' ? query.token : '';
    const session = await loadSession(request);
    const link = await inspectEmailLink(services, token);
    if (!link) return sendPage(reply, emailLinkFailedPage({ message: INVALID_MESSAGE, signedIn: Boolean(session?.user) }), 400);
    const csrfToken = await formCsrfToken(request, reply);
    // The token is in the address: no Referer to any other site (security headers set the rest).
    reply.header('Referrer-Policy', 'no-referrer');
    return sendPage(reply, emailLinkPage({ csrfToken, token, purpose: link.purpose, email: link.email }));
  });

  app.post('/verify-email', PAGE_ROUTE, async (request, reply) => {
    if (!(await requireCsrf(request, reply))) return reply;
    reply.header('Referrer-Policy', 'no-referrer');
    const result = await useEmailLink(services, request.log, formValue(request.body, 'token'), request.ip);
    // Whoever is signed in (the link may have been opened in another browser, or by nobody signed in).
    const session = await loadSession(request);
    const signedIn = Boolean(session?.user);
    const frame = { signedIn, userName: session?.user?.name ?? null, csrfToken: session?.user ? session.csrfToken : null };
    switch (result.outcome) {
      case 'verified':
        return sendPage(reply, emailLinkDonePage({ ...frame, title: 'E-mail address verified', message: `Thank you: ${result.email} is verified.` }));
      case 'changed':
        return sendPage(reply, emailLinkDonePage({ ...frame, title: 'E-mail address changed', message: `Your account now uses ${result.email}.` }));
      case 'stale':
        return sendPage(reply, emailLinkFailedPage({ message: 'This link is for an address your account no longer uses.', signedIn }), 400);
      case 'taken':
        return sendPage(reply, emailLinkFailedPage({ message: "This e-mail address can't be used for your account any more. Choose another on your account page.", signedIn }), 409);
      default:
        return sendPage(reply, emailLinkFailedPage({ message: INVALID_MESSAGE, signedIn }), 400);
    }
  });

  app.get('/verify-email/resend', PAGE_ROUTE, async (request, reply) => {
    const csrfToken = await formCsrfToken(request, reply);
    return sendPage(reply, resendPage({ csrfToken, email: '' }));
  });

  app.post('/verify-email/resend', PAGE_ROUTE, async (request, reply) => {
    const session = await requireCsrf(request, reply);
    if (!session) return reply;
    const email = formValue(request.body, 'email').trim();
    if (email === '' || email.length > 320 || !/^[^\s@]+@[^\s@]+$/.test(email)) {
      return sendPage(reply, resendPage({ csrfToken: session.csrfToken, email: '', error: 'Enter the e-mail address of your account.' }), 400);
    }
    const limited = await resendVerification(services, request.log, email, request.ip);
    if (limited) {
      reply.header('Retry-After', String(limited.retryAfter));
      return sendPage(reply, resendPage({ csrfToken: session.csrfToken, email, error: `Too many links asked for this address. Try again in ${Math.ceil(limited.retryAfter / 60)} minutes.` }), 429);
    }
    return sendPage(reply, resendPage({ csrfToken: session.csrfToken, email, notice: RESENT_MESSAGE }));
  });
}
