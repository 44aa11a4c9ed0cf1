// The developer portal: /developer/clients… A user sees and changes only the clients they own;
// anyone else's client, or an unknown id, is a 404 (never a hint that it exists).
// Redirect URIs are typed comma-separated (House Check's guide) or one per line, and held to
// the portal's policy: absolute, no fragment, https except for loopback hosts.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ClientRegistrationError, registerClient, resetClientSecret, validateClientName, validateRedirectUris } from '../../accounts/client-registration.js';
import { nowSeconds } from '../../oauth/clock.js';
import { audit } from '../../audit.js';
import { splitRedirectUris } from '../../oauth/redirect-uri.js';
import type { Client, User } from '../../oauth/model.js';
import type { FormErrors } from '../../views/forms.js';
import {
  clientEditPage, clientListPage, clientSecretPage, confirmDeletePage, confirmResetPage, newClientPage, type ClientFormValues,
} from '../../views/developer.js';
import { capitalize, formChecked, formValue, PAGE_ROUTE, sendNotFound, sendPage, sessionUser, stringParam } from '../pages.js';
import { requireCsrf, requireUser, type Session } from '../session.js';

const PORTAL_POLICY = { requireHttps: true } as const;
const MAX_REDIRECT_URIS_TEXT = 40_000;

const NOTICES: Readonly<Record<string, string>> = {
  saved: 'Your changes are saved.',
  deleted: 'The client is deleted and its tokens are revoked.',
};

type UserSession = Session & { user: User };

function notice(request: FastifyRequest): string | undefined {
  const done = (request.query as Record<string, unknown>).done;
  return typeof done === 'string' ? NOTICES[done] : undefined;
}

/** Validates a name and a typed list of redirect URIs, collecting an error per field. */
function validateClientForm(name: string, redirectUrisText: string): { errors: FormErrors; name: string; redirectUris: string[] } {
  const errors: FormErrors = {};
  let cleanName = '';
  let redirectUris: string[] = [];
  try {
    cleanName = validateClientName(name);
  } catch (err) {
    if (!(err instanceof ClientRegistrationError)) throw err;
    errors.name = capitalize(err.message);
  }
  if (redirectUrisText.length > MAX_REDIRECT_URIS_TEXT) {
    errors.redirect_uris = 'The list of redirect URIs is too long';
  } else {
    try {
      redirectUris = validateRedirectUris(splitRedirectUris(redirectUrisText), PORTAL_POLICY);
    } catch (err) {
      if (!(err instanceof ClientRegistrationError)) throw err;
      errors.redirect_uris = capitalize(err.message);
    }
  }
  return { errors, name: cleanName, redirectUris };
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
    return sendPage(reply, clientListPage({ user: session.user, csrfToken: session.csrfToken, clients, notice: notice(request) }));
  });

  app.get('/developer/clients/new', PAGE_ROUTE, async (request, reply) => {
    const session = await requireUser(request, reply);
    if (!session) return reply;
    return sendPage(reply, newClientPage({ user: session.user, csrfToken: session.csrfToken, values: { name: '', redirectUris: '', isPublic: false }, errors: {} }));
  });

  app.post('/developer/clients/new', PAGE_ROUTE, async (request, reply) => {
    const session = await postSession(request, reply, '/developer/clients/new');
    if (!session) return reply;
    const body = request.body;
    const values: ClientFormValues = { name: formValue(body, 'name'), redirectUris: formValue(body, 'redirect_uris'), isPublic: formChecked(body, 'public') };
    const checked = validateClientForm(values.name, values.redirectUris);
    if (Object.keys(checked.errors).length > 0) {
      return sendPage(reply, newClientPage({ user: session.user, csrfToken: session.csrfToken, values, errors: checked.errors }), 400);
    }
    const { client, clientSecret } = await registerClient(services, {
      name: checked.name,
      redirectUris: checked.redirectUris,
      ownerUserId: session.user.id,
      isPublic: values.isPublic,
      redirectUriPolicy: PORTAL_POLICY,
      // Anyone may register here: no error redirects before the user has seen the consent page.
      trusted: false,
    });
    audit(request.log, 'client.created', { user_id: session.user.id, client_id: client.clientId, address: request.ip });
    // The secret is in this response only (no-store): it is never stored in clear or shown again.
    return sendPage(reply, clientSecretPage({ user: session.user, csrfToken: session.csrfToken, client, secret: clientSecret, reset: false }), 201);
  });

  app.get('/developer/clients/:clientId', PAGE_ROUTE, async (request, reply) => {
    const session = await requireUser(request, reply);
    if (!session) return reply;
    const client = await ownedClient(request, reply, session);
    if (!client) return reply;
    return sendPage(reply, clientEditPage({
      user: session.user, csrfToken: session.csrfToken, client, notice: notice(request),
      values: { name: client.name, redirectUris: client.redirectUris.join('\n') }, errors: {},
    }));
  });

  app.post('/developer/clients/:clientId', PAGE_ROUTE, async (request, reply) => {
    const session = await postSession(request, reply, request.url);
    if (!session) return reply;
    const client = await ownedClient(request, reply, session);
    if (!client) return reply;
    const body = request.body;
    const values = { name: formValue(body, 'name'), redirectUris: formValue(body, 'redirect_uris') };
    const checked = validateClientForm(values.name, values.redirectUris);
    if (Object.keys(checked.errors).length > 0) {
      return sendPage(reply, clientEditPage({ user: session.user, csrfToken: session.csrfToken, client, values, errors: checked.errors }), 400);
    }
    await services.clients.update(client.id, { name: checked.name, redirectUris: checked.redirectUris }, nowSeconds(services.clock));
    audit(request.log, 'client.updated', { user_id: session.user.id, client_id: client.clientId, address: request.ip });
    return reply.redirect(`/developer/clients/${encodeURIComponent(client.clientId)}?done=saved`, 303);
  });

  app.get('/developer/clients/:clientId/reset-secret', PAGE_ROUTE, async (request, reply) => {
    const session = await requireUser(request, reply);
    if (!session) return reply;
    const client = await ownedClient(request, reply, session);
    if (!client) return reply;
    if (client.isPublic) return sendNotFound(reply, session);
    return sendPage(reply, confirmResetPage({ user: session.user, csrfToken: session.csrfToken, client }));
  });

  app.post('/developer/clients/:clientId/reset-secret', PAGE_ROUTE, async (request, reply) => {
    const session = await postSession(request, reply, request.url);
    if (!session) return reply;
    const client = await ownedClient(request, reply, session);
    if (!client) return reply;
    if (client.isPublic) return sendNotFound(reply, session);
    if (!formChecked(request.body, 'confirm')) {
      return sendPage(reply, confirmResetPage({ user: session.user, csrfToken: session.csrfToken, client, error: 'Tick the box to confirm' }), 400);
    }
    const secret = await resetClientSecret(services, client.clientId);
    if (secret === undefined) return sendNotFound(reply, session);
    audit(request.log, 'client.secret_reset', { user_id: session.user.id, client_id: client.clientId, address: request.ip });
    return sendPage(reply, clientSecretPage({ user: session.user, csrfToken: session.csrfToken, client, secret, reset: true }));
  });

  app.get('/developer/clients/:clientId/delete', PAGE_ROUTE, async (request, reply) => {
    const session = await requireUser(request, reply);
    if (!session) return reply;
    const client = await ownedClient(request, reply, session);
    if (!client) return reply;
    return sendPage(reply, confirmDeletePage({ user: session.user, csrfToken: session.csrfToken, client }));
  });

  app.post('/developer/clients/:clientId/delete', PAGE_ROUTE, async (request, reply) => {
    const session = await postSession(request, reply, request.url);
    if (!session) return reply;
    const client = await ownedClient(request, reply, session);
    if (!client) return reply;
    if (!formChecked(request.body, 'confirm')) {
      return sendPage(reply, confirmDeletePage({ user: session.user, csrfToken: session.csrfToken, client, error: 'Tick the box to confirm' }), 400);
    }
    // ON DELETE CASCADE takes its grants, consents, codes and tokens with it.
    await services.clients.delete(client.id);
    audit(request.log, 'client.deleted', { user_id: session.user.id, client_id: client.clientId, address: request.ip });
    return reply.redirect('/developer/clients?done=deleted', 303);
  });
}
