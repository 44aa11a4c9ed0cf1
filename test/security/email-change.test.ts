// Issue 18, finding 5: the e-mail address (served to apps as `email`) must not change on the
// strength of a session cookie alone, and the page must not tell whether another account uses
// an address. Real HTTP on both databases: a stolen session without the password, the right
// password, a taken address against an unusable one, control characters, and a burst of
// attempts sent at once against the per-account limit.
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { databaseKinds } from '../helpers/databases.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createClient, createUser, type TestUser } from '../helpers/fixtures.js';
import { getUser } from '../helpers/token.js';
import { issueTokens } from '../helpers/token-admin.js';
import { PageClient, csrfTokenOf } from '../helpers/pages.js';
import { MailSink, linkTo } from '../helpers/mail.js';
import { nowSeconds } from '../../src/oauth/clock.js';

const REDIS_URL = process.env.TEST_REDIS_URL ?? process.env.REDIS_URL;

function fieldErrors(html: string): string[] {
  return [...html.matchAll(/class="field-error" id="([^"]+)">([^<]*)</g)].map((m) => `${m[1]}: ${m[2]}`);
}

/** A browser signed in as `user`: only its cookie, as a thief who copied it would have. */
async function session(server: TestServer, user: TestUser): Promise<PageClient> {
  const browser = new PageClient(server.url);
  const res = await browser.submit('/login', '/login', { email: user.email, password: user.password });
  assert.equal(res.status, 303);
  return browser;
}

async function storedEmail(server: TestServer, userId: number): Promise<string | undefined> {
  return (await server.services.users.findById(userId))?.email;
}

function auditLines(server: TestServer, event: string): Array<Record<string, unknown>> {
  return server.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.audit === true && l.event === event);
}

for (const kind of databaseKinds()) {
  describe(`[${kind}] finding 5: changing the e-mail address`, () => {
    test('a stolen session cannot change the e-mail; with the current password (and the link sent to the new address) the owner can', async () => {
      const sink = new MailSink();
      await sink.start();
      const server = await startTestServer(kind, { env: { SMTP_URL: sink.url, LATCHKEY_MAIL_RETRY_BASE: '1' } });
      try {
        const user = await createUser(server, { email: 'victim@example.com', locale: 'en' });
        const { accessToken } = await issueTokens(server, await createClient(server), user.id);
        const thief = await session(server, user);

        // Cookie only, no password: refused, with the reason next to the password field.
        const noPassword = await thief.submit('/account', '/account/profile', { name: user.name, email: 'thief@evil.example', locale: 'en' });
        assert.equal(noPassword.status, 400);
        assert.deepEqual(fieldErrors(noPassword.body).map((e) => e.split(':')[0]), ['profile-current_password-error']);
        // A guess is refused the same way, and nothing of the thief's password lands in the page.
        const guessed = await thief.submit('/account', '/account/profile', { name: user.name, email: 'thief@evil.example', locale: 'en', current_password: 'password123' });
        assert.equal(guessed.status, 400);
        assert.match(fieldErrors(guessed.body).join('\n'), /profile-current_password-error: This is not your current password/);
        assert.doesNotMatch(guessed.body, /password123/);
        assert.equal(await storedEmail(server, user.id), 'victim@example.com');
        assert.equal((await getUser(server, accessToken)).body.email, 'victim@example.com', 'apps still get the old address');
        assert.equal(auditLines(server, 'email.changed').length, 0);

        // Name and language need no password.
        const renamed = await thief.submit('/account', '/account/profile', { name: 'Renamed', email: 'victim@example.com', locale: 'en' });
        assert.equal(renamed.status, 303);
        assert.equal((await server.services.users.findById(user.id))?.name, 'Renamed');

        // The owner, with the password: changed, audited without the address.
        const owner = await session(server, user);
        const page = await owner.get('/account');
        assert.match(page.body, /<label for="profile-current_password">Your password<\/label>/);
        assert.equal((page.body.match(/>Current password</g) ?? []).length, 1, 'one control labelled Current password (the password form)');
        const changed = await owner.post('/account/profile', { csrf_token: csrfTokenOf(page.body), name: 'Renamed', email: 'new-home@example.org', locale: 'en', current_password: user.password });
        assert.equal(changed.status, 303);
        // Issue 22: the new address is used once the link sent to it is followed.
        assert.equal(await storedEmail(server, user.id), 'victim@example.com');
        assert.equal(auditLines(server, 'email.changed').length, 0);
        const requested = auditLines(server, 'email.change_requested');
        assert.equal(requested.length, 1);
        assert.equal(JSON.stringify(requested[0]).includes('new-home'), false, 'never the new address');
        const link = linkTo(await sink.waitFor((m) => m.to.includes('new-home@example.org')), '/verify-email');
        const linkPage = await owner.get(link);
        const token = new URL(link).searchParams.get('token') ?? '';
        assert.equal((await owner.post('/verify-email', { csrf_token: csrfTokenOf(linkPage.body), token })).status, 200);
        assert.equal(await storedEmail(server, user.id), 'new-home@example.org');
        assert.equal((await getUser(server, accessToken)).body.email, 'new-home@example.org');
        const lines = auditLines(server, 'email.changed');
        assert.equal(lines.length, 1);
        assert.equal(lines[0]?.user_id, user.id);
        assert.equal(lines[0]?.address, '127.0.0.1');
        const text = JSON.stringify(lines[0]);
        assert.equal(text.includes('new-home'), false, 'never the new address');
        assert.equal(text.includes('victim'), false, 'never the old address');
      } finally {
        await server.close();
        await sink.stop();
      }
    });

    test('a taken address and an unusable one get the same answer, which names no account', async () => {
      const server = await startTestServer(kind);
      try {
        const user = await createUser(server, { email: 'ann@example.com', locale: 'en' });
        await createUser(server, { email: 'bob@example.com', locale: 'en' });
        const ann = await session(server, user);
        const attempt = (email: string) => ann.submit('/account', '/account/profile', { name: user.name, email, locale: 'en', current_password: user.password });
        const taken = await attempt('BOB@example.com');
        const unusable = await attempt('someone@mail.invalid');
        assert.equal(taken.status, 400);
        assert.equal(unusable.status, taken.status);
        assert.deepEqual(fieldErrors(taken.body), ["profile-email-error: This e-mail address can&#39;t be used for your account. Choose another."]);
        assert.deepEqual(fieldErrors(unusable.body), fieldErrors(taken.body));
        assert.doesNotMatch(taken.body, /another account|already/i);
        assert.equal(await storedEmail(server, user.id), 'ann@example.com');
        // A wrong password says nothing about the address either: the same answer for both.
        const wrongTaken = await ann.submit('/account', '/account/profile', { name: user.name, email: 'bob@example.com', locale: 'en', current_password: 'not it at all' });
        const wrongFree = await ann.submit('/account', '/account/profile', { name: user.name, email: 'free@example.com', locale: 'en', current_password: 'not it at all' });
        assert.equal(wrongTaken.status, wrongFree.status);
        assert.deepEqual(fieldErrors(wrongTaken.body), fieldErrors(wrongFree.body));
      } finally {
        await server.close();
      }
    });

    test('control characters and CR/LF in the e-mail field: 400 with a readable message, never a 5xx', async () => {
      const server = await startTestServer(kind);
      try {
        const user = await createUser(server, { email: 'carol@example.com', locale: 'en' });
        const carol = await session(server, user);
        const hostile = [
          'carol@example.com\r\nBcc: all@example.com',
          'ca\r\nrol@example.com',
          'carol@exam\nple.com',
          'ca\u0001rol@example.com',
          'carol\u007f@example.com',
          'carol@exa\u0085mple.com',
          'carol\u202e@example.com',
          'ca\u0000rol@example.com',
          '\r\n',
        ];
        for (const email of hostile) {
          const res = await carol.submit('/account', '/account/profile', { name: user.name, email, locale: 'en', current_password: user.password });
          assert.equal(res.status, 400, `${JSON.stringify(email)} → ${res.status}`);
          const errors = fieldErrors(res.body);
          assert.equal(errors.length, 1, `${JSON.stringify(email)}: ${errors.join(' | ')}`);
          assert.match(errors[0] ?? '', /^profile-email-error: /);
          // The message itself holds no raw control character.
          assert.doesNotMatch(errors[0] ?? '', /[\p{Cc}\p{Cf}]/u);
        }
        assert.equal(await storedEmail(server, user.id), 'carol@example.com');
      } finally {
        await server.close();
      }
    });

    for (const counters of REDIS_URL ? ['memory', 'redis'] as const : ['memory'] as const) {
    test(`e-mail changes are limited per account, also when sent at once (${counters} counters)`, async () => {
      const env: Record<string, string> = counters === 'redis' ? { REDIS_URL: REDIS_URL ?? '', LATCHKEY_REDIS_PREFIX: `t${randomBytes(6).toString('hex')}:` } : {};
      const server = await startTestServer(kind, { env });
      try {
        const user = await createUser(server, { email: 'dave@example.com', locale: 'en' });
        const dave = await session(server, user);
        const csrf = csrfTokenOf((await dave.get('/account')).body);
        const burst = await Promise.all(Array.from({ length: 8 }, (_, i) => dave.post('/account/profile', {
          csrf_token: csrf, name: user.name, email: `dave${i}@example.com`, locale: 'en', current_password: user.password,
        })));
        const statuses = burst.map((r) => r.status);
        // Every attempt counts against the hour's five, and at most two password checks of one
        // account run at once (accounts/backoff.ts): between one and five go through, never more.
        const changed = statuses.filter((s) => s === 303).length;
        assert.ok(changed >= 1 && changed <= 5, `statuses: ${statuses.join(',')}`);
        const limited = burst.filter((r) => r.status === 429);
        assert.equal(limited.length, 8 - changed, `statuses: ${statuses.join(',')}`);
        for (const r of limited) {
          assert.ok(Number(r.headers.get('retry-after')) > 0);
          assert.match(r.body, /Too many e-mail address changes|Too many (password checks|sign-in attempts) at once|Too many failed sign-in attempts/);
        }
        assert.ok(limited.filter((r) => /Too many e-mail address changes/.test(r.body)).length >= 3, 'attempts past the fifth meet the hourly limit');
        // Name changes are not held back; the limit ends with the hour.
        assert.equal((await dave.post('/account/profile', { csrf_token: csrf, name: 'Dave', email: (await storedEmail(server, user.id)) ?? '', locale: 'en' })).status, 303);
        assert.equal((await dave.post('/account/profile', { csrf_token: csrf, name: 'Dave', email: 'later@example.com', locale: 'en', current_password: user.password })).status, 429);
        // Redis forgets by its own clock, which the test cannot move.
        if (counters === 'redis') return;
        server.clock.advance(3601);
        assert.equal((await dave.post('/account/profile', { csrf_token: csrf, name: 'Dave', email: 'later@example.com', locale: 'en', current_password: user.password })).status, 303);
        // The change waits for the link sent to the new address (issue 22).
        assert.equal((await server.services.emailTokens.findPending(user.id, 'change', nowSeconds(server.clock)))?.email, 'later@example.com');
      } finally {
        await server.close();
      }
    });
    }
  });
}
