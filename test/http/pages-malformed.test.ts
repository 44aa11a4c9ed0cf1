// Bad input to the portal's pages is a 4xx page (or a redirect), never a 5xx: NUL characters
// (PostgreSQL refuses them in text), repeated fields, JSON and multipart bodies, odd path
// parameters and over-long values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { databaseKinds } from '../helpers/databases.js';
import { startTestServer } from '../helpers/server.js';
import { csrfTokenOf, signUp, textById } from '../helpers/pages.js';

for (const kind of databaseKinds()) {
  test(`[${kind}] malformed input to the portal pages never yields a 5xx`, async () => {
    const server = await startTestServer(kind);
    try {
      const { services } = server;
      const dana = await signUp(server.url, { email: 'dana@example.com', name: 'Dana' });
      const created = await dana.submit('/developer/clients/new', '/developer/clients/new', { name: 'App', redirect_uris: 'https://app.example/cb' });
      const clientId = textById(created.body, 'client-id');
      const org = await dana.submit('/orgs', '/orgs', { name: 'Acme' });
      const orgPath = (org.location ?? '').split('?')[0] ?? '';
      const token = csrfTokenOf((await dana.get('/account')).body);
      const before = { users: await services.users.findByEmail('dana@example.com'), client: await services.clients.findByClientId(clientId) };

      const forms: Array<[string, string[]]> = [
        ['/signup', ['name', 'email', 'password', 'password_confirm', 'locale', 'next']],
        ['/account/profile', ['name', 'email', 'locale', 'current_password']],
        ['/account/password', ['current_password', 'password', 'password_confirm']],
        ['/account/apps/revoke', ['client_id', 'organization_id']],
        ['/account/verify-email', []],
        ['/verify-email', ['token']],
        ['/verify-email/resend', ['email']],
        ['/developer/clients/new', ['name', 'redirect_uris', 'public']],
        [`/developer/clients/${clientId}`, ['name', 'redirect_uris']],
        [`/developer/clients/${clientId}/reset-secret`, ['confirm']],
        [`/developer/clients/${clientId}/delete`, ['confirm']],
        ['/orgs', ['name']],
        [`${orgPath}/members`, ['email', 'role']],
        [`${orgPath}/members/1/role`, ['role']],
        [`${orgPath}/members/1/remove`, []],
        [`${orgPath}/invitations/1/cancel`, []],
        ['/orgs/invitations/1/accept', []],
        ['/orgs/invitations/1/decline', []],
        ['/orgs/invitations/abc/accept', []],
        ['/orgs/invitations/99999999999/decline', []],
        [`${orgPath}/invitations/%00/cancel`, []],
      ];
      const nasty = ['a\u0000b', '\u0000', 'x'.repeat(20_000), '\ud800', '<script>', '%00', ' '];
      for (const [action, fields] of forms) {
        for (const value of nasty) {
          const body = new URLSearchParams({ csrf_token: token });
          for (const f of fields) body.set(f, value);
          const res = await dana.request('POST', action, body.toString());
          assert.ok(res.status < 500, `POST ${action} with ${JSON.stringify(value.slice(0, 10))} → ${res.status}`);
        }
        // Repeated fields, and the other body formats.
        const repeated = `csrf_token=${encodeURIComponent(token)}&${fields.map((f) => `${f}=a&${f}=b`).join('&')}`;
        assert.ok((await dana.request('POST', action, repeated)).status < 500, `POST ${action} repeated`);
        const json = JSON.stringify({ csrf_token: token, ...Object.fromEntries(fields.map((f) => [f, ['nested', { deep: 1 }]])) });
        assert.ok((await dana.request('POST', action, json, 'application/json')).status < 500, `POST ${action} JSON`);
        assert.ok((await dana.request('POST', action, '{', 'application/json')).status < 500, `POST ${action} bad JSON`);
        const boundary = 'XyZ';
        const multipart = [`--${boundary}`, 'Content-Disposition: form-data; name="csrf_token"', '', token, ...fields.flatMap((f) => [`--${boundary}`, `Content-Disposition: form-data; name="${f}"`, '', 'a\u0000b']), `--${boundary}--`, ''].join('\r\n');
        assert.ok((await dana.request('POST', action, multipart, `multipart/form-data; boundary=${boundary}`)).status < 500, `POST ${action} multipart`);
        assert.ok((await dana.request('POST', action, '%E0%A4%A', 'application/x-www-form-urlencoded')).status < 500, `POST ${action} bad encoding`);
      }
      for (const path of ['/developer/clients/%00', `/developer/clients/${'a'.repeat(199)}`, '/developer/clients/%E2%80%AE', '/orgs/0', '/orgs/-1', '/orgs/1e3', '/orgs/%00',
        '/orgs/2147483648', '/account?done=%00', '/signup?next=%00', '/signup?next=//evil.example', '/developer/clients/x/reset-secret', '/developer/clients/x/delete']) {
        const res = await dana.get(path);
        assert.ok(res.status < 500, `GET ${path} → ${res.status}`);
      }
      // The account and the client survived all of it (the delete forms were never confirmed).
      assert.deepEqual(await services.clients.findByClientId(clientId), before.client);
      assert.equal((await services.users.findByEmail('dana@example.com'))?.id, before.users?.id);
    } finally {
      await server.close();
    }
  });
}
