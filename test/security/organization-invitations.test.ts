// Issue 18, finding 6: an admin could add any account to their organization without its
// consent (POST /orgs/:orgId/members made the membership at once). The victim's name and
// e-mail were then shown to the organization, and the victim's next consent was bound to it
// (the consent page chose the only organization for them). Now the form sends an invitation
// that only the invitee can accept; until then it counts for nothing. Every attack below runs
// over real HTTP, with the CSRF tokens read from the pages, on both databases.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { databaseKinds } from '../helpers/databases.js';
import { freezeClock, startTestServer, type TestServer } from '../helpers/server.js';
import { createClient, createUser } from '../helpers/fixtures.js';
import { exchangeCode, getUser, tokensOf } from '../helpers/token.js';
import { CookieJar, httpRequest, type HttpResult } from '../helpers/browser.js';
import { hiddenFields, radioOptions } from '../helpers/html.js';
import { authorize, DECISION_PATH, signIn } from '../helpers/authorize.js';

const DAY = 24 * 3600;

/** GETs `page` and POSTs `fields` with the hidden fields (the CSRF token) of its form posting to `action`. */
async function submit(server: TestServer, jar: CookieJar, page: string, action: string, fields: Record<string, string>): Promise<HttpResult> {
  const html = (await httpRequest(server, 'GET', page, { jar })).body;
  return httpRequest(server, 'POST', action, { jar, form: { ...hiddenFields(html, action), ...fields } });
}

async function createOrg(server: TestServer, jar: CookieJar, name: string): Promise<number> {
  const res = await submit(server, jar, '/orgs', '/orgs', { name });
  assert.equal(res.status, 303);
  const id = Number(/^\/orgs\/(\d+)\?/.exec(res.location ?? '')?.[1]);
  assert.ok(id > 0);
  return id;
}

function invite(server: TestServer, jar: CookieJar, orgId: number, email: string, role = 'member'): Promise<HttpResult> {
  return submit(server, jar, `/orgs/${orgId}`, `/orgs/${orgId}/members`, { email, role });
}

/** The invitation ids offered to the signed-in user on /orgs (their Accept forms). */
async function offeredInvitations(server: TestServer, jar: CookieJar): Promise<{ html: string; ids: number[] }> {
  const page = await httpRequest(server, 'GET', '/orgs', { jar });
  assert.equal(page.status, 200);
  return { html: page.body, ids: [...page.body.matchAll(/action="\/orgs\/invitations\/(\d+)\/accept"/g)].map((m) => Number(m[1])) };
}

function auditLines(server: TestServer, event: string): Array<Record<string, unknown>> {
  return server.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.audit === true && l.event === event);
}

async function invitationRows(server: TestServer, orgId: number) {
  return server.services.store.db.selectFrom('organization_invitations').selectAll().where('organization_id', '=', orgId).execute();
}

for (const kind of databaseKinds()) {
  test(`[${kind}] an admin "adding" an account by e-mail makes no membership: not listed, not on the consent page, not in tokens`, async () => {
    const server = await startTestServer(kind);
    try {
      const { services } = server;
      const admin = await createUser(server, { locale: 'en', name: 'Mallory Admin' });
      const victim = await createUser(server, { locale: 'en', name: 'Victim Person' });
      const app = await createClient(server, { redirectUris: ['https://app.example/cb'] });
      const adminJar = await signIn(server, admin.email, admin.password);
      const orgId = await createOrg(server, adminJar, 'Shady Org');

      const added = await invite(server, adminJar, orgId, victim.email.toUpperCase());
      assert.equal(await services.orgs.findMembership(orgId, victim.id), undefined, 'no membership without the victim');
      assert.equal(added.status, 200);
      assert.deepEqual((await services.orgs.listMembers(orgId)).map((m) => m.userId), [admin.id]);
      const orgPage = await httpRequest(server, 'GET', `/orgs/${orgId}`, { jar: adminJar });
      assert.doesNotMatch(orgPage.body, /Victim Person/, 'the invitee\'s name is not shown to the organization');
      assert.doesNotMatch(added.body, /Victim Person/);

      const victimJar = await signIn(server, victim.email, victim.password);
      assert.equal((await httpRequest(server, 'GET', `/orgs/${orgId}`, { jar: victimJar })).status, 404, 'the victim is not a member');

      // The consent page offers no organization, and a hand-made decision naming it is refused.
      const consent = await authorize(server, { clientId: app.clientId, state: 's', decision: 'stop', cookies: victimJar });
      assert.ok(consent.consentShown);
      const html = consent.consentPage ?? '';
      assert.deepEqual(radioOptions(html, 'organization_id'), []);
      assert.doesNotMatch(html, /Shady Org/);
      const forged = await httpRequest(server, 'POST', DECISION_PATH, {
        jar: victimJar, form: { ...hiddenFields(html, DECISION_PATH), organization_id: String(orgId), decision: 'allow' },
      });
      assert.equal(forged.status, 400);
      assert.equal(forged.location, null);
      const boundGrants = await services.store.db.selectFrom('grants').select('id').where('organization_id', '=', orgId).execute();
      assert.equal(boundGrants.length, 0, 'no grant bound to the organization');

      // Allowing normally gives a token that speaks for the victim alone.
      const allowed = await authorize(server, { clientId: app.clientId, state: 's', cookies: victimJar });
      assert.ok(allowed.code);
      const tokens = tokensOf(await exchangeCode(server, app, allowed.code));
      const identity = await getUser(server, tokens.accessToken);
      assert.equal(identity.status, 200);
      assert.equal(identity.body.id, victim.id);
      assert.equal(identity.body.organization, undefined, '/api/user is not bound to the organization');

      const created = auditLines(server, 'org.invitation.created');
      assert.equal(created.length, 1);
      assert.equal(created[0]?.user_id, admin.id);
      assert.equal(created[0]?.organization_id, orgId);
      assert.equal(created[0]?.address, '127.0.0.1');
      assert.equal(JSON.stringify(created).includes(victim.email), false, 'no e-mail address in the audit line');
    } finally {
      await server.close();
    }
  });

  test(`[${kind}] the invite answer is the same whether or not an account uses the address`, async () => {
    const server = await startTestServer(kind);
    try {
      const admin = await createUser(server, { locale: 'en', name: 'Ann Admin' });
      const existing = await createUser(server, { locale: 'en', email: 'existing@example.com', name: 'Existing Person' });
      const adminJar = await signIn(server, admin.email, admin.password);
      const orgA = await createOrg(server, adminJar, 'Acme');
      const orgB = await createOrg(server, adminJar, 'Acme');
      freezeClock(server); // the two pages show the expiry times: the same second for both

      const toExisting = await invite(server, adminJar, orgA, existing.email);
      const toNobody = await invite(server, adminJar, orgB, 'nobody@example.com');
      assert.equal(toExisting.status, toNobody.status);
      assert.equal(toExisting.status, 200);
      const normalize = (body: string, address: string, orgId: number) =>
        body.replaceAll(address, 'ADDRESS').replaceAll(`/orgs/${orgId}/`, '/orgs/ORG/').replace(/\/invitations\/\d+\//g, '/invitations/ID/')
          .replace(/--org \d+/g, '--org ORG');
      assert.equal(normalize(toExisting.body, existing.email, orgA), normalize(toNobody.body, 'nobody@example.com', orgB));
      assert.ok(toNobody.body.includes('Invitation sent to nobody@example.com. It is valid for 7 days; they will see it when they sign in.'));
      assert.doesNotMatch(toExisting.body, /Existing Person/);
      // The pending invitation is listed to the admin by the address typed, with a Cancel button.
      assert.match(toNobody.body, /nobody@example\.com/);
      assert.match(toNobody.body, /action="\/orgs\/\d+\/invitations\/\d+\/cancel"/);

      // "Already a member" only for an address of a listed member.
      const self = await invite(server, adminJar, orgA, admin.email);
      assert.equal(self.status, 400);
      assert.match(self.body, /is already a member/);
      // Re-inviting refreshes the one invitation.
      assert.equal((await invite(server, adminJar, orgA, 'EXISTING@example.com', 'admin')).status, 200);
      const rows = await invitationRows(server, orgA);
      assert.equal(rows.length, 1);
      assert.equal(rows[0]?.role, 'admin');
    } finally {
      await server.close();
    }
  });

  test(`[${kind}] only the invitee accepts (another account gets 404); accept makes the membership, decline and cancel end it`, async () => {
    const server = await startTestServer(kind);
    try {
      const { services } = server;
      const admin = await createUser(server, { locale: 'en', name: 'Ann Admin' });
      const invitee = await createUser(server, { locale: 'en', name: 'Ivy Invitee' });
      const intruder = await createUser(server, { locale: 'en', name: 'Ian Intruder' });
      const app = await createClient(server, { redirectUris: ['https://app.example/cb'] });
      const adminJar = await signIn(server, admin.email, admin.password);
      const orgId = await createOrg(server, adminJar, 'Good Org');
      assert.equal((await invite(server, adminJar, orgId, invitee.email, 'admin')).status, 200);

      const inviteeJar = await signIn(server, invitee.email, invitee.password);
      const offered = await offeredInvitations(server, inviteeJar);
      assert.equal(offered.ids.length, 1);
      const invitationId = offered.ids[0]!;
      assert.match(offered.html, /Good Org/);
      assert.match(offered.html, new RegExp(`action="/orgs/invitations/${invitationId}/decline"`));

      // Another account, with its own valid CSRF token, cannot accept (or decline) it.
      const intruderJar = await signIn(server, intruder.email, intruder.password);
      const intruderView = await offeredInvitations(server, intruderJar);
      assert.deepEqual(intruderView.ids, []);
      assert.doesNotMatch(intruderView.html, /Good Org/);
      const intruderToken = hiddenFields(intruderView.html, '/orgs');
      for (const verb of ['accept', 'decline']) {
        const stolen = await httpRequest(server, 'POST', `/orgs/invitations/${invitationId}/${verb}`, { jar: intruderJar, form: intruderToken });
        assert.equal(stolen.status, 404, `${verb} by another account`);
      }
      assert.equal(await services.orgs.findMembership(orgId, intruder.id), undefined);
      assert.equal((await invitationRows(server, orgId)).length, 1, 'the invitation is still there');
      // Without the CSRF token, nothing happens.
      assert.equal((await httpRequest(server, 'POST', `/orgs/invitations/${invitationId}/accept`, { jar: inviteeJar, form: {} })).status, 403);
      assert.equal(await services.orgs.findMembership(orgId, invitee.id), undefined);

      const accepted = await httpRequest(server, 'POST', `/orgs/invitations/${invitationId}/accept`, { jar: inviteeJar, form: hiddenFields(offered.html, `/orgs/invitations/${invitationId}/accept`) });
      assert.equal(accepted.status, 303);
      assert.equal(accepted.location, `/orgs/${orgId}?done=joined`);
      assert.equal((await services.orgs.findMembership(orgId, invitee.id))?.role, 'admin', 'the invited role');
      assert.equal((await invitationRows(server, orgId)).length, 0);
      assert.match((await httpRequest(server, 'GET', `/orgs/${orgId}`, { jar: adminJar })).body, /Ivy Invitee/);
      const again = await httpRequest(server, 'POST', `/orgs/invitations/${invitationId}/accept`, { jar: inviteeJar, form: hiddenFields(offered.html, `/orgs/invitations/${invitationId}/accept`) });
      assert.equal(again.status, 404, 'single use');
      const consent = await authorize(server, { clientId: app.clientId, decision: 'stop', cookies: inviteeJar });
      assert.deepEqual(radioOptions(consent.consentPage ?? '', 'organization_id').map((o) => o.value), [String(orgId)], 'now a real membership');

      // Decline deletes the invitation and makes nothing.
      const decliner = await createUser(server, { locale: 'en', name: 'Dan Decliner' });
      assert.equal((await invite(server, adminJar, orgId, decliner.email)).status, 200);
      const declinerJar = await signIn(server, decliner.email, decliner.password);
      const toDecline = await offeredInvitations(server, declinerJar);
      const declineId = toDecline.ids[0]!;
      const declined = await httpRequest(server, 'POST', `/orgs/invitations/${declineId}/decline`, { jar: declinerJar, form: hiddenFields(toDecline.html, `/orgs/invitations/${declineId}/decline`) });
      assert.equal(declined.status, 303);
      assert.equal(await services.orgs.findMembership(orgId, decliner.id), undefined);
      assert.equal((await invitationRows(server, orgId)).length, 0);
      assert.equal((await httpRequest(server, 'POST', `/orgs/invitations/${declineId}/accept`, { jar: declinerJar, form: hiddenFields(toDecline.html, `/orgs/invitations/${declineId}/decline`) })).status, 404);

      // An admin cancels; the invitee no longer sees it and cannot accept it.
      const late = await createUser(server, { locale: 'en', name: 'Lee Late' });
      const sent = await invite(server, adminJar, orgId, late.email);
      const cancelAction = /action="(\/orgs\/\d+\/invitations\/(\d+)\/cancel)"/.exec(sent.body);
      assert.ok(cancelAction?.[1]);
      const lateJar = await signIn(server, late.email, late.password);
      const lateView = await offeredInvitations(server, lateJar);
      assert.deepEqual(lateView.ids, [Number(cancelAction[2])]);
      // A plain member cannot cancel.
      const cancelledByMember = await httpRequest(server, 'POST', cancelAction[1], { jar: declinerJar, form: hiddenFields(toDecline.html, '/orgs') });
      assert.equal(cancelledByMember.status, 404, 'not a member of the organization');
      const cancelled = await httpRequest(server, 'POST', cancelAction[1], { jar: adminJar, form: hiddenFields(sent.body, cancelAction[1]) });
      assert.equal(cancelled.status, 303);
      assert.deepEqual((await offeredInvitations(server, lateJar)).ids, []);
      const lateAccept = await httpRequest(server, 'POST', `/orgs/invitations/${cancelAction[2]}/accept`, { jar: lateJar, form: hiddenFields(lateView.html, '/orgs') });
      assert.equal(lateAccept.status, 404);
      assert.equal(await services.orgs.findMembership(orgId, late.id), undefined);

      for (const event of ['org.invitation.accepted', 'org.invitation.declined', 'org.invitation.cancelled']) {
        const lines = auditLines(server, event);
        assert.equal(lines.length, 1, event);
        assert.equal(lines[0]?.organization_id, orgId);
        assert.equal(lines[0]?.address, '127.0.0.1');
      }
    } finally {
      await server.close();
    }
  });

  test(`[${kind}] an invitation 8 days old cannot be accepted`, async () => {
    const server = await startTestServer(kind);
    try {
      const admin = await createUser(server, { locale: 'en' });
      const invitee = await createUser(server, { locale: 'en' });
      const adminJar = await signIn(server, admin.email, admin.password);
      const orgId = await createOrg(server, adminJar, 'Old Org');
      assert.equal((await invite(server, adminJar, orgId, invitee.email)).status, 200);
      const inviteeJar = await signIn(server, invitee.email, invitee.password);
      const offered = await offeredInvitations(server, inviteeJar);
      const id = offered.ids[0]!;
      const form = hiddenFields(offered.html, `/orgs/invitations/${id}/accept`);

      assert.ok(form.csrf_token);
      server.clock.advance(8 * DAY);
      // Sessions last at most 7 days (LATCHKEY_SESSION_LIFETIME): the invitee signs in again.
      const againJar = await signIn(server, invitee.email, invitee.password);
      const later = await offeredInvitations(server, againJar);
      assert.deepEqual(later.ids, [], 'no longer offered');
      // The new session's CSRF token, from the page's other form (create an organization).
      const { csrf_token: csrf } = hiddenFields(later.html, '/orgs');
      assert.ok(csrf);
      const res = await httpRequest(server, 'POST', `/orgs/invitations/${id}/accept`, { jar: againJar, form: { csrf_token: csrf } });
      assert.equal(res.status, 404);
      assert.equal(await server.services.orgs.findMembership(orgId, invitee.id), undefined);
      assert.equal(auditLines(server, 'org.invitation.accepted').length, 0);
    } finally {
      await server.close();
    }
  });

  test(`[${kind}] a burst of invitations sent at once is capped per organization and per admin (429, Retry-After)`, async () => {
    const server = await startTestServer(kind);
    try {
      const admin = await createUser(server, { locale: 'en' });
      const adminJar = await signIn(server, admin.email, admin.password);
      const orgA = await createOrg(server, adminJar, 'Spam A');
      const orgB = await createOrg(server, adminJar, 'Spam B');

      const burst = async (orgId: number, prefix: string, n: number) => {
        const html = (await httpRequest(server, 'GET', `/orgs/${orgId}`, { jar: adminJar })).body;
        const form = hiddenFields(html, `/orgs/${orgId}/members`);
        return Promise.all(Array.from({ length: n }, (_, i) =>
          httpRequest(server, 'POST', `/orgs/${orgId}/members`, { jar: adminJar, form: { ...form, email: `${prefix}${i}@example.com`, role: 'member' } })));
      };

      const first = await burst(orgA, 'a', 30);
      assert.equal(first.filter((r) => r.status === 200).length, 20, 'at most 20 an hour per organization');
      const refused = first.filter((r) => r.status === 429);
      assert.equal(refused.length, 10);
      for (const r of refused) {
        assert.ok(Number(r.headers.get('retry-after')) > 0, 'Retry-After');
        assert.match(r.body, /Too many invitations/);
      }
      assert.equal((await invitationRows(server, orgA)).length, 20);

      // The same admin in another organization: the per-admin budget (30 an hour) is what is left.
      const second = await burst(orgB, 'b', 20);
      assert.equal(second.filter((r) => r.status === 200).length, 10, 'at most 30 an hour per admin');
      assert.equal(second.filter((r) => r.status === 429).length, 10);
      assert.equal((await invitationRows(server, orgB)).length, 10);

      server.clock.advance(3601);
      assert.equal((await invite(server, adminJar, orgA, 'later@example.com')).status, 200, 'a new hour, a new budget');
    } finally {
      await server.close();
    }
  });

  test(`[${kind}] two admins demoting each other at once leave one admin; role changes and removals are audit lines`, async () => {
    const server = await startTestServer(kind);
    try {
      const { services } = server;
      const ann = await createUser(server, { locale: 'en', name: 'Ann' });
      const bob = await createUser(server, { locale: 'en', name: 'Bob' });
      const annJar = await signIn(server, ann.email, ann.password);
      const orgId = await createOrg(server, annJar, 'Pair');
      assert.equal((await invite(server, annJar, orgId, bob.email, 'admin')).status, 200);
      const bobJar = await signIn(server, bob.email, bob.password);
      const offered = await offeredInvitations(server, bobJar);
      const accepted = await httpRequest(server, 'POST', `/orgs/invitations/${offered.ids[0]}/accept`, { jar: bobJar, form: hiddenFields(offered.html, '/orgs') });
      assert.equal(accepted.status, 303);

      const annForm = hiddenFields((await httpRequest(server, 'GET', `/orgs/${orgId}`, { jar: annJar })).body, `/orgs/${orgId}/members/${bob.id}/role`);
      const bobForm = hiddenFields((await httpRequest(server, 'GET', `/orgs/${orgId}`, { jar: bobJar })).body, `/orgs/${orgId}/members/${ann.id}/role`);
      const [annDemotesBob, bobDemotesAnn] = await Promise.all([
        httpRequest(server, 'POST', `/orgs/${orgId}/members/${bob.id}/role`, { jar: annJar, form: { ...annForm, role: 'member' } }),
        httpRequest(server, 'POST', `/orgs/${orgId}/members/${ann.id}/role`, { jar: bobJar, form: { ...bobForm, role: 'member' } }),
      ]);
      // One wins; the other is refused as the last admin (400), or as no longer an admin (403).
      const statuses = [annDemotesBob.status, bobDemotesAnn.status].sort();
      assert.equal(statuses[0], 303);
      assert.ok(statuses[1] === 400 || statuses[1] === 403, `the other is refused: ${statuses[1]}`);
      const admins = (await services.orgs.listMembers(orgId)).filter((m) => m.role === 'admin');
      assert.equal(admins.length, 1, 'the organization keeps an admin');

      const changed = auditLines(server, 'org.role.changed');
      assert.equal(changed.length, 1);
      assert.equal(changed[0]?.role, 'member');
      assert.equal(changed[0]?.address, '127.0.0.1');

      // The remaining admin removes the other member.
      const [admin, member] = admins[0]?.userId === ann.id ? [annJar, bob] : [bobJar, ann];
      const form = hiddenFields((await httpRequest(server, 'GET', `/orgs/${orgId}`, { jar: admin })).body, `/orgs/${orgId}/members/${member.id}/remove`);
      assert.equal((await httpRequest(server, 'POST', `/orgs/${orgId}/members/${member.id}/remove`, { jar: admin, form })).status, 303);
      const removed = auditLines(server, 'org.member.removed');
      assert.equal(removed.length, 1);
      assert.equal(removed[0]?.member_id, member.id);
      assert.equal(removed[0]?.organization_id, orgId);
      assert.equal(removed[0]?.address, '127.0.0.1');
    } finally {
      await server.close();
    }
  });
}
