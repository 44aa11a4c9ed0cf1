// Every form of the portal, POSTed without its CSRF token (and with a wrong one), is refused
// with 403 and changes nothing: each case checks the database before and after.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { databaseKinds } from '../helpers/databases.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { PageClient, signUp, textById } from '../helpers/pages.js';
import { nowSeconds } from '../../src/oauth/clock.js';

interface FormCase {
  name: string;
  action: string;
  fields: Record<string, string>;
  /** A snapshot of the state the form would change. */
  state: () => Promise<unknown>;
  /** Which client posts (default: the signed-in owner). */
  as?: 'owner' | 'anonymous';
}

async function setUp(server: TestServer) {
  const { services } = server;
  const owner = await signUp(server.url, { email: 'owner@example.com', name: 'Owner' });
  const ownerUser = (await services.users.findByEmail('owner@example.com'))!;
  await signUp(server.url, { email: 'other@example.com', name: 'Other' });
  const otherUser = (await services.users.findByEmail('other@example.com'))!;

  const created = await owner.submit('/developer/clients/new', '/developer/clients/new', { name: 'Owned app', redirect_uris: 'https://app.example/cb' });
  assert.equal(created.status, 201);
  const clientId = textById(created.body, 'client-id');
  const client = (await services.clients.findByClientId(clientId))!;

  const orgCreated = await owner.submit('/orgs', '/orgs', { name: 'Acme' });
  assert.equal(orgCreated.status, 303);
  const orgId = Number(/\/orgs\/(\d+)/.exec(orgCreated.location ?? '')?.[1]);
  const memberUser = (await services.users.findByEmail('other@example.com'))!;
  const now = nowSeconds(services.clock);
  await services.orgs.upsertMember(orgId, memberUser.id, 'member', now);
  // An invitation the owner (an admin) could cancel, and one addressed to the owner.
  const pending = await services.invitations.upsert({ organizationId: orgId, email: 'pending@example.com', role: 'member', invitedBy: ownerUser.id, now, expiresAt: now + 3600 });
  const otherOrg = await services.orgs.insert({ name: 'Elsewhere', integrationsEnabled: true, now });
  const toOwner = await services.invitations.upsert({ organizationId: otherOrg.id, email: 'owner@example.com', role: 'admin', invitedBy: otherUser.id, now, expiresAt: now + 3600 });

  // A connected app for the owner: consent plus a live grant.
  await services.grants.upsertConsent(ownerUser.id, client.id, null, 'profile', now);
  const grantId = await services.grants.insert({ clientId: client.id, userId: ownerUser.id, organizationId: null, scope: 'profile', grantType: 'authorization_code', now });
  return { owner, ownerUser, otherUser, client, orgId, grantId, pendingId: pending.id, toOwnerId: toOwner.id };
}

for (const kind of databaseKinds()) {
  test(`[${kind}] every portal form refuses a POST without its CSRF token (403) and changes nothing`, async () => {
    const server = await startTestServer(kind);
    try {
      const { services } = server;
      const { owner, ownerUser, otherUser, client, orgId, grantId, pendingId, toOwnerId } = await setUp(server);
      const db = services.store.db;
      const userRow = (id: number) => db.selectFrom('users').select(['name', 'email', 'locale', 'password_hash']).where('id', '=', id).executeTakeFirst();
      const invitationState = async () => ({
        invitations: await db.selectFrom('organization_invitations').selectAll().orderBy('id').execute(),
        memberships: await db.selectFrom('memberships').selectAll().orderBy('organization_id').orderBy('user_id').execute(),
      });
      const clientRow = () => db.selectFrom('clients').select(['name', 'redirect_uris', 'secret_hash']).where('id', '=', client.id).executeTakeFirst();

      // The consent page's hidden authorization request, as the form would carry it.
      const consent = await owner.get(`/oauth/authorize?${new URLSearchParams({ response_type: 'code', client_id: client.clientId, redirect_uri: 'https://app.example/cb', state: 's', prompt: 'consent' })}`);
      assert.equal(consent.status, 200, 'the consent page');
      const authorizationRequest = /name="authorization_request" value="([^"]*)"/.exec(consent.body)?.[1] ?? '';
      assert.notEqual(authorizationRequest, '');

      const cases: FormCase[] = [
        {
          name: 'sign-up', action: '/signup', as: 'anonymous',
          fields: { name: 'Mallory', email: 'mallory@example.com', password: 'password123', password_confirm: 'password123', locale: 'en' },
          state: async () => (await db.selectFrom('users').select('email').orderBy('id').execute()).map((r) => r.email),
        },
        {
          name: 'send the verification link again', action: '/verify-email/resend', as: 'anonymous', fields: { email: 'owner@example.com' },
          state: async () => (await db.selectFrom('mail_queue').select('id').execute()).length,
        },
        {
          name: 'send verification link (account page)', action: '/account/verify-email', fields: {},
          state: async () => (await db.selectFrom('mail_queue').select('id').execute()).length,
        },
        { name: 'profile', action: '/account/profile', fields: { name: 'Changed', email: 'changed@example.com', locale: 'nl' }, state: () => userRow(ownerUser.id) },
        {
          name: 'password change', action: '/account/password',
          fields: { current_password: 'correct horse battery', password: 'new password 123', password_confirm: 'new password 123' },
          state: async () => ({ user: await userRow(ownerUser.id), sessions: (await db.selectFrom('sessions').select('id_hash').where('user_id', '=', ownerUser.id).execute()).length }),
        },
        {
          name: 'revoke connected app', action: '/account/apps/revoke', fields: { client_id: client.clientId, organization_id: '' },
          state: async () => ({ consent: await services.grants.findConsent(ownerUser.id, client.id, null), revoked: await services.grants.isRevoked(grantId) }),
        },
        {
          name: 'new client', action: '/developer/clients/new', fields: { name: 'Sneaky', redirect_uris: 'https://evil.example/cb' },
          state: async () => (await services.clients.listByOwner(ownerUser.id)).map((c) => c.clientId),
        },
        { name: 'edit client', action: `/developer/clients/${client.clientId}`, fields: { name: 'Renamed', redirect_uris: 'https://evil.example/cb' }, state: clientRow },
        { name: 'reset secret', action: `/developer/clients/${client.clientId}/reset-secret`, fields: { confirm: 'yes' }, state: clientRow },
        { name: 'delete client', action: `/developer/clients/${client.clientId}/delete`, fields: { confirm: 'yes' }, state: clientRow },
        {
          name: 'create organization', action: '/orgs', fields: { name: 'Evil Corp' },
          state: async () => (await db.selectFrom('organizations').select('name').orderBy('id').execute()).map((r) => r.name),
        },
        {
          name: 'invite member', action: `/orgs/${orgId}/members`, fields: { email: 'someone@example.com', role: 'admin' },
          state: invitationState,
        },
        { name: 'cancel invitation', action: `/orgs/${orgId}/invitations/${pendingId}/cancel`, fields: {}, state: invitationState },
        { name: 'accept invitation', action: `/orgs/invitations/${toOwnerId}/accept`, fields: {}, state: invitationState },
        { name: 'decline invitation', action: `/orgs/invitations/${toOwnerId}/decline`, fields: {}, state: invitationState },
        { name: 'change role', action: `/orgs/${orgId}/members/${otherUser.id}/role`, fields: { role: 'admin' }, state: () => services.orgs.listMembers(orgId) },
        { name: 'remove member', action: `/orgs/${orgId}/members/${otherUser.id}/remove`, fields: {}, state: () => services.orgs.listMembers(orgId) },
        {
          name: 'sign in', action: '/login', as: 'anonymous', fields: { email: 'owner@example.com', password: 'correct horse battery', next: '/account' },
          state: async () => (await db.selectFrom('sessions').select('id_hash').where('user_id', '=', ownerUser.id).execute()).length,
        },
        {
          name: 'consent decision', action: '/oauth/authorize/decision',
          fields: { decision: 'allow', authorization_request: authorizationRequest },
          state: async () => ({
            consents: (await db.selectFrom('consents').select('client_id').execute()).length,
            grants: (await db.selectFrom('grants').select('id').execute()).length,
            codes: (await db.selectFrom('authorization_codes').select('code_hash').execute()).length,
          }),
        },
        {
          name: 'sign out', action: '/logout', fields: {},
          state: async () => (await db.selectFrom('sessions').select('id_hash').where('user_id', '=', ownerUser.id).execute()).length,
        },
      ];

      // An anonymous visitor with a session of their own (the sign-up page gave them one).
      const anonymous = new PageClient(server.url);
      assert.equal((await anonymous.get('/signup')).status, 200);

      for (const c of cases) {
        const who = c.as === 'anonymous' ? anonymous : owner;
        for (const [label, token] of [['without a token', undefined], ['with a wrong token', 'not-the-token'], ['with an empty token', '']] as const) {
          const before = await c.state();
          const fields = token === undefined ? c.fields : { ...c.fields, csrf_token: token };
          const res = await who.post(c.action, fields);
          assert.equal(res.status, 403, `${c.name} ${label}: status ${res.status}`);
          assert.match(res.headers.get('content-type') ?? '', /text\/html/, `${c.name}: an HTML page`);
          assert.match(res.body, /Form expired/, `${c.name}: the page says why`);
          assert.deepEqual(await c.state(), before, `${c.name} ${label}: nothing changed`);
        }
      }

      // A token from another session does not count either (tokens are per session).
      const otherSession = await signUp(server.url, { email: 'third@example.com' });
      const foreignToken = /name="csrf_token" value="([^"]+)"/.exec((await otherSession.get('/account')).body)?.[1] ?? '';
      const before = await clientRow();
      const res = await owner.post(`/developer/clients/${client.clientId}/delete`, { csrf_token: foreignToken, confirm: 'yes' });
      assert.equal(res.status, 403);
      assert.deepEqual(await clientRow(), before);

      // No cookie at all: 403 too.
      const stranger = new PageClient(server.url);
      const orgsBefore = await db.selectFrom('organizations').select('id').execute();
      assert.equal((await stranger.post('/orgs', { name: 'Nobody' })).status, 403);
      assert.deepEqual(await db.selectFrom('organizations').select('id').execute(), orgsBefore);

      // And the same forms with their token do work (the test above is not vacuous).
      const ok = await owner.submit('/account', '/account/profile', { name: 'Changed', email: 'owner@example.com', locale: 'nl' });
      assert.equal(ok.status, 303);
      assert.equal((await services.users.findById(ownerUser.id))?.name, 'Changed');
    } finally {
      await server.close();
    }
  });
}
