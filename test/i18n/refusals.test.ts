// The rules' refusals said in the page's language (src/http/locale.ts): in English each is word
// for word what the rule's own message says (so nothing changes for English pages, the CLI or
// the logs); in Dutch and German each is translated and still names the refused value.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AccountError, validateEmail, validateLocale, validateName, validatePassword } from '../../src/accounts/users.js';
import { ClientRegistrationError, validateClientName, validatePostLogoutRedirectUris, validateRedirectUris } from '../../src/accounts/client-registration.js';
import { accountErrorText, clientRegistrationErrorText } from '../../src/http/locale.js';
import { capitalize } from '../../src/http/pages.js';
import { ENGLISH, translator } from '../../src/i18n/index.js';

function refusal<E extends Error>(type: new (...args: never[]) => E, fn: () => unknown): E {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof type, `expected ${type.name}, got ${String(err)}`);
    return err;
  }
  assert.fail('not refused');
}

const nl = translator('nl');
const de = translator('de');

test('account fields: English as the rule says it, Dutch and German translated', () => {
  const cases: Array<() => unknown> = [
    () => validateEmail('a\nb@example.com'), () => validateEmail('geen-adres'), () => validateName('  '), () => validateName('x'.repeat(201)),
    () => validateLocale('english!'), () => validatePassword(' spaced password '), () => validatePassword('kort'), () => validatePassword('x'.repeat(5000)),
  ];
  const seen = new Set<string>();
  for (const fn of cases) {
    const err = refusal(AccountError, fn);
    assert.ok(err.reason, `a reason for ${err.message}`);
    seen.add(err.reason);
    assert.equal(accountErrorText(ENGLISH, err), capitalize(err.message));
    const dutch = accountErrorText(nl, err) ?? '';
    const german = accountErrorText(de, err) ?? '';
    assert.notEqual(dutch, capitalize(err.message), `Dutch for ${err.reason}`);
    assert.notEqual(german, capitalize(err.message), `German for ${err.reason}`);
    assert.notEqual(dutch, german);
  }
  assert.equal(seen.size, cases.length, 'every reason once');
  assert.equal(accountErrorText(nl, refusal(AccountError, () => validateEmail('geen-adres'))), '"geen-adres" is geen e-mailadres');
  assert.equal(accountErrorText(nl, new AccountError('something new', 'email')), undefined, 'no reason: the caller says the English message');
});

test('client registration and redirect URIs: English as the rule says it, for both lists; Dutch and German name the URI', () => {
  const policy = { requireHttps: true };
  const uris = ['', 'x'.repeat(2001), 'https://a.example/\\evil', '/relative', 'https://a.example/cb#frag', 'javascript:alert(1)', 'https://user:pw@a.example/cb', 'http://plain.example/cb', 'http://'];
  const errors: ClientRegistrationError[] = [
    refusal(ClientRegistrationError, () => validateClientName(' ')),
    refusal(ClientRegistrationError, () => validateClientName('x'.repeat(201))),
    refusal(ClientRegistrationError, () => validateRedirectUris([], policy)),
    refusal(ClientRegistrationError, () => validateRedirectUris(Array.from({ length: 21 }, (_, i) => `https://a.example/${i}`), policy)),
    refusal(ClientRegistrationError, () => validatePostLogoutRedirectUris(Array.from({ length: 21 }, (_, i) => `https://a.example/${i}`), policy)),
  ];
  for (const uri of uris) {
    errors.push(refusal(ClientRegistrationError, () => validateRedirectUris([uri], policy)));
    errors.push(refusal(ClientRegistrationError, () => validatePostLogoutRedirectUris([uri], policy)));
  }
  const problems = new Set(errors.map((e) => e.uriError?.problem).filter(Boolean));
  // `no_host` is a guard the WHATWG parser leaves no way to reach for http(s); the other eight are reached.
  assert.equal(problems.size, 8, `every reachable redirect URI problem: ${[...problems].join(', ')}`);
  for (const err of errors) {
    assert.equal(clientRegistrationErrorText(ENGLISH, err), capitalize(err.message), err.message);
    const dutch = clientRegistrationErrorText(nl, err) ?? '';
    const german = clientRegistrationErrorText(de, err) ?? '';
    assert.ok(dutch !== '' && german !== '' && dutch !== german && dutch !== capitalize(err.message), `translated: ${err.message}`);
    const shown = err.uriError?.shown;
    if (shown !== undefined) {
      assert.ok(dutch.includes(shown) && german.includes(shown), `the URI is named: ${dutch} / ${german}`);
    }
  }
  const https = refusal(ClientRegistrationError, () => validatePostLogoutRedirectUris(['http://plain.example/bye'], policy));
  assert.equal(clientRegistrationErrorText(nl, https), 'Redirect-URI na uitloggen: http://plain.example/bye moet https gebruiken (http mag alleen voor localhost en 127.0.0.1)');
});
