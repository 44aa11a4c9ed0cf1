// Small helpers shared by the portal's page routes (sign-up, account, developer portal,
// organizations): reading one form field, answering with a page, and the "signed in?" check
// of a form POST that has already passed its CSRF check.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { html, type Html } from '../html.js';
import { errorPage, layout } from '../views/layout.js';
import type { Session } from './session.js';
import type { User } from '../oauth/model.js';
import { pageTranslator } from './locale.js';
import type { Translator } from '../i18n/index.js';

/** Route options of every page: errors render as an HTML page, never JSON. */
export const PAGE_ROUTE = { config: { errorFormat: 'html' as const } };

/**
 * One field of a submitted form as a string. A missing field is ''; a repeated field (an
 * array), a non-string, or text holding NUL (which PostgreSQL refuses in text columns) is
 * treated as missing, so validation reports it instead of a 500.
 */
export function formValue(body: unknown, name: string): string {
  if (body === null || typeof body !== 'object') return '';
  const value = (body as Record<string, unknown>)[name];
  return typeof value === 'string' && !value.includes('\0') ? value : '';
}

/** True when a checkbox with value "yes" was ticked. */
export function formChecked(body: unknown, name: string): boolean {
  return formValue(body, name) === 'yes';
}

/** Sends a page. Portal pages show personal data and secrets: never cached. */
export function sendPage(reply: FastifyReply, page: Html, status = 200): FastifyReply {
  return reply.code(status).type('text/html; charset=utf-8').header('Cache-Control', 'no-store').send(page.toString());
}

/** An error page; with the signed-in session, its header keeps the account navigation. */
function messagePage(t: Translator, title: string, message: string, session?: Session | null): Html {
  if (!session?.user) return errorPage(title, message, t);
  return layout({
    title,
    t,
    userName: session.user.name,
    csrfToken: session.csrfToken,
    body: html`<section class="card narrow"><h1>${title}</h1><p>${message}</p></section>`,
  });
}

export function sendNotFound(reply: FastifyReply, session?: Session | null): FastifyReply {
  const tr = pageTranslator(reply.request, { user: session?.user ?? null });
  return sendPage(reply, messagePage(tr, tr.t('error.notFound.title'), tr.t('error.notFound.message'), session), 404);
}

/** 403 with `message`, already in the page's language (pageTranslator with the same session). */
export function sendForbidden(reply: FastifyReply, message: string, session?: Session | null): FastifyReply {
  const tr = pageTranslator(reply.request, { user: session?.user ?? null });
  return sendPage(reply, messagePage(tr, tr.t('error.forbidden.title'), message, session), 403);
}

/**
 * After requireCsrf passed: the signed-in session, or a redirect to the login page that comes
 * back to `returnTo` (the page the form was on, not the POST target) and null.
 */
export async function sessionUser(session: Session, reply: FastifyReply, returnTo: string): Promise<(Session & { user: User }) | null> {
  if (session.user) return session as Session & { user: User };
  await reply.redirect(`/login?next=${encodeURIComponent(returnTo)}`, 303);
  return null;
}

/** A positive integer path parameter (an organization or user id), or null. */
export function idParam(request: FastifyRequest, name: string): number | null {
  const value = (request.params as Record<string, string | undefined>)[name];
  if (value === undefined || !/^[1-9][0-9]{0,9}$/.test(value)) return null;
  const id = Number(value);
  return id <= 2_147_483_647 ? id : null;
}

/** A string path parameter (a client id), or ''. */
export function stringParam(request: FastifyRequest, name: string): string {
  const value = (request.params as Record<string, string | undefined>)[name];
  return typeof value === 'string' && !value.includes('\0') ? value : '';
}

/** A validation message ("the name must not be empty") as a sentence for the page. */
export function capitalize(message: string): string {
  // Not when it starts with a value ("http://…", a quoted e-mail): that must stay as typed.
  if (!/^[a-z]+(\s|$)/.test(message)) return message;
  return message.charAt(0).toUpperCase() + message.slice(1);
}
