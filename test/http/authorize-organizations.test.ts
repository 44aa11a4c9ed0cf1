// Consent per organization (Hover: "a user only has to grant application authorization one
// time per Hover organization"; SPEC.md: an organization whose plan has integrations off shows
// "Third-party integrations are not available on your plan." and cannot be allowed).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { databaseKinds } from '../helpers/databases.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createClient, createOrganization, createUser } from '../helpers/fixtures.js';
import { httpRequest } from '../helpers/browser.js';
import { hiddenFields, radioOptions } from '../helpers/html.js';
import { authorize, DECISION_PATH, signIn } from '../helpers/authorize.js';

const REDIRECT = 'https://hover-app.example/cb';
const SENTENCE = 'Third-party integrations are not available on your plan.';

for (const kind of databaseKinds()) {
  describe(`[${kind}] consent per organization`, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer(kind, { profile: 'hover' });
    });
    after(async () => {
      await server.close();
    });

    const codeRows = async (clientId: number) =>
      server.services.store.db.selectFrom('authorization_codes').selectAll().where('client_id', '=', clientId).orderBy('created_at').execute();

    test('the picker lists every organization; one with integrations off says so and cannot be chosen', async () => {
      const user = await createUser(server, { locale: 'en' });
      const on = await createOrganization(server, { name: 'Roofing <Co>', memberIds: [user.id] });
      const off = await createOrganization(server, { name: 'Free Plan Ltd', integrationsEnabled: false, memberIds: [user.id] });
      const { clientId } = await createClient(server, { redirectUris: [REDIRECT] });
      const cookies = await signIn(server, user.email, user.password);
      const page = await authorize(server, { clientId, decision: 'stop', cookies });
      assert.ok(page.consentShown);
      const html = page.consentPage ?? '';
      assert.match(html, /Roofing &lt;Co&gt;/);
      assert.match(html, /Free Plan Ltd/);
      assert.ok(html.includes(SENTENCE));
      const options = radioOptions(html, 'organization_id');
      assert.deepEqual(options.map((o) => o.value).sort(), [String(on.id), String(off.id)].sort());
      assert.equal(options.find((o) => o.value === String(off.id))?.disabled, true);
      assert.equal(options.find((o) => o.value === String(on.id))?.disabled, false);
      // Deny works without picking an organization (the radio group is required).
      assert.match(html, /name="decision" value="deny"[^>]*formnovalidate/);
      // The only organization that can be chosen is chosen already.
      assert.equal(options.find((o) => o.value === String(on.id))?.checked, true);
    });

    test('a hand-made POST allowing an organization with integrations off is refused and issues nothing', async () => {
      const user = await createUser(server, { locale: 'en' });
      const off = await createOrganization(server, { integrationsEnabled: false, memberIds: [user.id] });
      const { client, clientId } = await createClient(server, { redirectUris: [REDIRECT] });
      const cookies = await signIn(server, user.email, user.password);
      const page = await authorize(server, { clientId, state: 'h', decision: 'stop', cookies });
      const html = page.consentPage ?? '';
      assert.ok(html.includes(SENTENCE));
      assert.match(html, /<button type="submit" name="decision" value="allow" disabled>/);

      const res = await httpRequest(server, 'POST', DECISION_PATH, {
        jar: cookies, form: { ...hiddenFields(html, DECISION_PATH), organization_id: String(off.id), decision: 'allow' },
      });
      assert.equal(res.status, 403);
      assert.equal(res.location, null);
      assert.ok(res.body.includes(SENTENCE));
      assert.equal((await codeRows(client.id)).length, 0);
      assert.equal(await server.services.grants.findConsent(user.id, client.id, off.id), undefined);
      // Denying is still possible.
      const denied = await authorize(server, { clientId, state: 'h', decision: 'deny', cookies });
      assert.equal(denied.error, 'access_denied');
      assert.equal(denied.state, 'h');
    });

    test('an organization the user is not a member of, or none at all, cannot be allowed', async () => {
      const user = await createUser(server, { locale: 'en' });
      await createOrganization(server, { memberIds: [user.id] });
      const stranger = await createOrganization(server, { name: 'Not mine' });
      const { client, clientId } = await createClient(server, { redirectUris: [REDIRECT] });
      const cookies = await signIn(server, user.email, user.password);
      const page = await authorize(server, { clientId, decision: 'stop', cookies });
      const fields = hiddenFields(page.consentPage ?? '', DECISION_PATH);
      for (const organizationId of [String(stranger.id), '', '0', '-1', '1e3', 'abc', '99999999999999999999']) {
        const res = await httpRequest(server, 'POST', DECISION_PATH, { jar: cookies, form: { ...fields, organization_id: organizationId, decision: 'allow' } });
        assert.equal(res.status, 400, `organization_id=${organizationId}`);
        assert.equal(res.location, null);
      }
      const missing = await httpRequest(server, 'POST', DECISION_PATH, { jar: cookies, form: { ...fields, decision: 'allow' } });
      assert.equal(missing.status, 400);
      assert.match(missing.body, /Choose the organization/);
      assert.equal((await codeRows(client.id)).length, 0);
    });

    test('a user without organizations cannot slip one in', async () => {
      const user = await createUser(server);
      const other = await createOrganization(server);
      const { client, clientId } = await createClient(server, { redirectUris: [REDIRECT] });
      const cookies = await signIn(server, user.email, user.password);
      const page = await authorize(server, { clientId, decision: 'stop', cookies });
      assert.equal(radioOptions(page.consentPage ?? '', 'organization_id').length, 0);
      const res = await httpRequest(server, 'POST', DECISION_PATH, {
        jar: cookies, form: { ...hiddenFields(page.consentPage ?? '', DECISION_PATH), organization_id: String(other.id), decision: 'allow' },
      });
      assert.equal(res.status, 400);
      assert.equal((await codeRows(client.id)).length, 0);
    });

    test('allowing for an organization binds the grant and the code to it', async () => {
      const user = await createUser(server);
      const org = await createOrganization(server, { memberIds: [user.id] });
      const { client, clientId } = await createClient(server, { redirectUris: [REDIRECT] });
      const result = await authorize(server, { clientId, state: 'o', organizationId: org.id, login: { email: user.email, password: user.password } });
      assert.ok(result.code);
      assert.equal(result.state, 'o');
      const [row] = await codeRows(client.id);
      assert.equal(row?.organization_id, org.id);
      const grant = await server.services.store.db.selectFrom('grants').selectAll().where('id', '=', row?.grant_id ?? 0).executeTakeFirstOrThrow();
      assert.equal(grant.organization_id, org.id);
      assert.ok(await server.services.grants.findConsent(user.id, client.id, org.id));
      assert.equal(await server.services.grants.findConsent(user.id, client.id, null), undefined);
    });

    test('one organization: consent is remembered for it, and no longer once its plan turns integrations off', async () => {
      const user = await createUser(server, { locale: 'en' });
      const org = await createOrganization(server, { memberIds: [user.id] });
      const { clientId } = await createClient(server, { redirectUris: [REDIRECT] });
      const first = await authorize(server, { clientId, login: { email: user.email, password: user.password } });
      assert.ok(first.consentShown);
      assert.ok(first.code);
      const second = await authorize(server, { clientId, cookies: first.cookies });
      assert.equal(second.consentShown, false);
      assert.ok(second.code);

      await server.services.orgs.setIntegrations(org.id, false);
      const third = await authorize(server, { clientId, cookies: first.cookies, decision: 'stop' });
      assert.ok(third.consentShown);
      assert.ok((third.consentPage ?? '').includes(SENTENCE));
      assert.equal(third.code, null);
    });

    test('consent is per organization: consent for one does not count for another', async () => {
      const user = await createUser(server);
      const a = await createOrganization(server, { name: 'Alpha', memberIds: [user.id] });
      const b = await createOrganization(server, { name: 'Beta', memberIds: [user.id] });
      const { client, clientId } = await createClient(server, { redirectUris: [REDIRECT] });
      const cookies = await signIn(server, user.email, user.password);

      const forA = await authorize(server, { clientId, organizationId: a.id, cookies });
      assert.ok(forA.consentShown);
      assert.ok(forA.code);
      // With two organizations the request does not say which one: the user is asked again
      // (nothing preselected) and can grant the other one.
      const again = await authorize(server, { clientId, cookies, decision: 'stop' });
      assert.ok(again.consentShown);
      assert.ok(radioOptions(again.consentPage ?? '', 'organization_id').every((o) => !o.checked));
      const forB = await authorize(server, { clientId, organizationId: b.id, cookies });
      assert.ok(forB.code);

      const rows = await codeRows(client.id);
      assert.deepEqual(rows.map((r) => r.organization_id).sort(), [a.id, b.id].sort());
      assert.ok(await server.services.grants.findConsent(user.id, client.id, a.id));
      assert.ok(await server.services.grants.findConsent(user.id, client.id, b.id));
      // Leaving an organization: one left (Alpha), with remembered consent, so no page at all;
      // and a hand-made choice of the old one is refused.
      await server.services.orgs.removeMember(b.id, user.id);
      const single = await authorize(server, { clientId, cookies });
      assert.equal(single.consentShown, false);
      assert.ok(single.code);
      const page = await authorize(server, { clientId, cookies, prompt: 'consent', decision: 'stop' });
      const res = await httpRequest(server, 'POST', DECISION_PATH, {
        jar: cookies, form: { ...hiddenFields(page.consentPage ?? '', DECISION_PATH), organization_id: String(b.id), decision: 'allow' },
      });
      assert.equal(res.status, 400);
    });
  });
}
