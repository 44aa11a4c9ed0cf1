// The developer portal: /developer/clients… A user sees and changes only the clients they own;
// anyone else's client, or an unknown id, is a 404 (never a hint that it exists).
// Redirect URIs are typed comma-separated (House Check's guide) or one per line, and held to
// the portal's policy: absolute, no fragment, https except for loopback hosts.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  ClientRegistrationError, hasResettableSecret, registerClient, resetClientSecret, validateClientName, validatePostLogoutRedirectUris, validateRedirectUris,
} from '../../accounts/client-registration.js';
import { nowSeconds } from '../../oauth/clock.js';
import { audit } from '../../audit.js';
import { splitRedirectUris } from '../../oauth/redirect-uri.js';
import type { Client, IdTokenAlg, User } from '../../oauth/model.js';
import { isSigningAlg } from '../../oauth/signing-keys.js';
import type { FormErrors } from '../../views/forms.js';
import {
  clientEditPage, clientListPage, clientSecretPage, confirmDeletePage, confirmResetPage, newClientPage, type ClientEditValues, type ClientFormValues,
} from '../../views/developer.js';
import { capitalize, formChecked, formValue, PAGE_ROUTE, sendNotFound, sendPage, sessionUser, stringParam } from '../pages.js';
import { requireCsrf, requireUser, type Session } from '../session.js';
import { clientRegistrationErrorText, pageTranslator } from '../locale.js';
import type { Translator } from '../../i18n/index.js';

const PORTAL_POLICY = { requireHttps: true } as const;
const MAX_REDIRECT_URIS_TEXT = 40_000;

const NOTICES = { saved: 'developer.notice.saved', deleted: 'developer.notice.deleted' } as const;

type UserSession = Session & { user: User };

/** What every portal page gets: the user, the CSRF token and the page's language (the account's). */
function pageBase(request: FastifyRequest, session: UserSession): { user: User; csrfToken: string; t: Translator } {
  return { user: session.user, csrfToken: session.csrfToken, t: pageTranslator(request, { user: session.user }) };
}

function notice(request: FastifyRequest, session: UserSession): string | undefined {
  const done = (request.query as Record<string, unknown>).done;
  if (typeof done !== 'string' || !Object.hasOwn(NOTICES, done)) return undefined;
  return pageBase(request, session).t.t(NOTICES[done as keyof typeof NOTICES]);
}

interface CheckedClientForm {
  errors: FormErrors;
  name: string;
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  idTokenAlg: IdTokenAlg;
}

/** One typed list of URIs, validated by `validate`; its error goes under `field`. */
function checkUriList(tr: Translator, errors: FormErrors, field: string, text: string, tooLong: string, validate: (uris: string[]) => string[]): string[] {
  if (text.length > MAX_REDIRECT_URIS_TEXT) {
    errors[field] = tooLong;
    return [];
  }
  try {
    return validate(splitRedirectUris(text));
  } catch (err) {
    if (!(err instanceof ClientRegistrationError)) throw err;
    errors[field] = clientRegistrationErrorText(tr, err) ?? capitalize(err.message);
    return [];
  }
}

/**
 * Validates the form's name, typed lists of URIs and ID token algorithm, collecting an error
 * per field. An algorithm left out (a form from before the field existed) keeps `currentAlg`.
 */
function validateClientForm(tr: Translator, values: ClientEditValues, currentAlg: IdTokenAlg = 'RS256'): CheckedClientForm {
  const { t } = tr;
  const errors: FormErrors = {};
  let cleanName = '';
  try {
    cleanName = validateClientName(values.name);
  } catch (err) {
    if (!(err instanceof ClientRegistrationError)) throw err;
    errors.name = clientRegistrationErrorText(tr, err) ?? capitalize(err.message);
  }
  const redirectUris = checkUriList(tr, errors, 'redirect_uris', values.redirectUris, t('developer.error.redirectListTooLong'), (uris) => validateRedirectUris(uris, PORTAL_POLICY));
  const postLogoutRedirectUris = checkUriList(tr, errors, 'post_logout_redirect_uris', values.postLogoutRedirectUris, t('developer.error.postLogoutListTooLong'),
    (uris) => validatePostLogoutRedirectUris(uris, PORTAL_POLICY));
  const alg = values.idTokenAlg === '' ? currentAlg : values.idTokenAlg;
  if (!isSigningAlg(alg)) errors.id_token_signed_response_alg = t('developer.error.alg');
  return { errors, name: cleanName, redirectUris, postLogoutRedirectUris, idTokenAlg: isSigningAlg(alg) ? alg : currentAlg };
}

/** The edit form's fields as submitted. */
function submittedValues(body: unknown): ClientEditValues {
  return {
    name: formValue(body, 'name'),
    redirectUris: formValue(body, 'redirect_uris'),
    postLogoutRedirectUris: formValue(body, 'post_logout_redirect_uris'),
    idTokenAlg: formValue(body, 'id_token_signed_response_alg'),
  };
}

export async function developerRoutes(app: FastifyInstance): Promise<void> {
  const { services } = app;

  /** The client named in the path if the signed-in user owns it; otherwise a 404 page was sent. */
  async function ownedClient(request: FastifyRequest, reply: FastifyReply, session: UserSession): Promise<Client | null> {
    const clientId = stringParam(request, 'clientId');
    const client = clientId === '' ? undefined : await services.clients.findByClientId(clientId);
    if (!client || client.ownerUserId !== session.user.id) {
      await sendNotFound(reply, session);
      return null;
    }
    return client;
  }

  /** For a form POST: CSRF first (403, nothing changed), then a signed-in user. */
  async function postSession(request: FastifyRequest, reply: FastifyReply, returnTo: string): Promise<UserSession | null> {
    const csrf = await requireCsrf(request, reply);
    if (!csrf) return null;
    return sessionUser(csrf, reply, returnTo);
  }

  app.get('/developer', PAGE_ROUTE, async (_request, reply) => reply.redirect('/developer/clients', 303));

  app.get('/developer/clients', PAGE_ROUTE, async (request, reply) => {
    const session = await requireUser(request, reply);
    if (!session) return reply;
    const clients = await services.clients.listByOwner(session.user.id);
    return sendPage(reply, clientListPage({ ...pageBase(request, session), clients, notice: notice(request, session) }));
  });

  app.get('/developer/clients/new', PAGE_ROUTE, async (request, reply) => {
    const session = await requireUser(request, reply);
    if (!session) return reply;
    return sendPage(reply, newClientPage({
      ...pageBase(request, session), values: { name: '', redirectUris: '', postLogoutRedirectUris: '', idTokenAlg: 'RS256', isPublic: false }, errors: {},
    }));
  });

  app.post('/developer/clients/new', PAGE_ROUTE, async (request, reply) => {
    const session = await postSession(request, reply, '/developer/clients/new');
    if (!session) return reply;
    const body = request.body;
    const values: ClientFormValues = { ...submittedValues(body), isPublic: formChecked(body, 'public') };
    const checked = validateClientForm(pageBase(request, session).t, values);
    if (Object.keys(checked.errors).length > 0) {
      return sendPage(reply, newClientPage({ ...pageBase(request, session), values, errors: checked.errors }), 400);
    }
    const { client, clientSecret } = await registerClient(services, {
      name: checked.name,
      redirectUris: checked.redirectUris,
      postLogoutRedirectUris: checked.postLogoutRedirectUris,
      idTokenSignedResponseAlg: checked.idTokenAlg,
      ownerUserId: session.user.id,
      isPublic: values.isPublic,
      redirectUriPolicy: PORTAL_POLICY,
      // Anyone may register here: no error redirects before the user has seen the consent page.
      trusted: false,
    });
    audit(request.log, 'client.created', { user_id: session.user.id, client_id: client.clientId, address: request.ip });
    // The secret is in this response only (no-store): it is never stored in clear or shown again.
    return sendPage(reply, clientSecretPage({ ...pageBase(request, session), client, secret: clientSecret, reset: false }), 201);
  });

  app.get('/developer/clients/:clientId', PAGE_ROUTE, async (request, reply) => {
    const session = await requireUser(request, reply);
    if (!session) return reply;
    const client = await ownedClient(request, reply, session);
    if (!client) return reply;
    return sendPage(reply, clientEditPage({
      ...pageBase(request, session), client, notice: notice(request, session),
      values: {
        name: client.name,
        redirectUris: client.redirectUris.join('\n'),
        postLogoutRedirectUris: client.postLogoutRedirectUris.join('\n'),
        idTokenAlg: client.idTokenSignedResponseAlg,
      },
      errors: {},
    }));
  });

  app.post('/developer/clients/:clientId', PAGE_ROUTE, async (request, reply) => {
    const session = await postSession(request, reply, request.url);
    if (!session) return reply;
    const client = await ownedClient(request, reply, session);
    if (!client) return reply;
    const values = submittedValues(request.body);
    const checked = validateClientForm(pageBase(request, session).t, values, client.idTokenSignedResponseAlg);
    if (Object.keys(checked.errors).length > 0) {
      return sendPage(reply, clientEditPage({ ...pageBase(request, session), client, values, errors: checked.errors }), 400);
    }
    await services.clients.update(client.id, {
      name: checked.name,
      redirectUris: checked.redirectUris,
      postLogoutRedirectUris: checked.postLogoutRedirectUris,
      idTokenSignedResponseAlg: checked.idTokenAlg,
    }, nowSeconds(services.clock));
    audit(request.log, 'client.updated', { user_id: session.user.id, client_id: client.clientId, address: request.ip });
    return reply.redirect(`/developer/clients/${encodeURIComponent(client.clientId)}?done=saved`, 303);
  });

  app.get('/developer/clients/:clientId/reset-secret', PAGE_ROUTE, async (request, reply) => {
    const session = await requireUser(request, reply);
    if (!session) return reply;
    const client = await ownedClient(request, reply, session);
    if (!client) return reply;
    if (!hasResettableSecret(client)) return sendNotFound(reply, session);
    return sendPage(reply, confirmResetPage({ ...pageBase(request, session), client }));
  });

  app.post('/developer/clients/:clientId/reset-secret', PAGE_ROUTE, async (request, reply) => {
    const session = await postSession(request, reply, request.url);
    if (!session) return reply;
    const client = await ownedClient(request, reply, session);
    if (!client) return reply;
    if (!hasResettableSecret(client)) return sendNotFound(reply, session);
    if (!formChecked(request.body, 'confirm')) {
      return sendPage(reply, confirmResetPage({ ...pageBase(request, session), client, error: pageBase(request, session).t.t('developer.error.tickBox') }), 400);
    }
    const secret = await resetClientSecret(services, client.clientId);
    if (secret === undefined) return sendNotFound(reply, session);
    audit(request.log, 'client.secret_reset', { user_id: session.user.id, client_id: client.clientId, address: request.ip });
    return sendPage(reply, clientSecretPage({ ...pageBase(request, session), client, secret, reset: true }));
  });

  app.get('/developer/clients/:clientId/delete', PAGE_ROUTE, async (request, reply) => {
    const session = await requireUser(request, reply);
    if (!session) return reply;
    const client = await ownedClient(request, reply, session);
    if (!client) return reply;
    return sendPage(reply, confirmDeletePage({ ...pageBase(request, session), client }));
  });

  app.post('/developer/clients/:clientId/delete', PAGE_ROUTE, async (request, reply) => {
    const session = await postSession(request, reply, request.url);
    if (!session) return reply;
    const client = await ownedClient(request, reply, session);
    if (!client) return reply;
    if (!formChecked(request.body, 'confirm')) {
      return sendPage(reply, confirmDeletePage({ ...pageBase(request, session), client, error: pageBase(request, session).t.t('developer.error.tickBox') }), 400);
    }
    // ON DELETE CASCADE takes its grants, consents, codes and tokens with it.
    await services.clients.delete(client.id);
    audit(request.log, 'client.deleted', { user_id: session.user.id, client_id: client.clientId, address: request.ip });
    return reply.redirect('/developer/clients?done=deleted', 303);
  });
}
