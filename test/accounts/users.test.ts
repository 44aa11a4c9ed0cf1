// The account rules of src/accounts/users.ts, shared by the CLI, sign-up and the account page:
// what an e-mail, a name, a locale and a password may be.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from '../../src/accounts/passwords.js';
import { AccountError, validateEmail, validateLocale, validateName, validatePassword } from '../../src/accounts/users.js';

function refusal(fn: () => unknown): AccountError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof AccountError, String(err));
    return err;
  }
  assert.fail('accepted');
}

describe('validateEmail', () => {
  test('accepts a plain address and international ones, trimmed', () => {
    assert.equal(validateEmail('ann@example.com'), 'ann@example.com');
    assert.equal(validateEmail('  ann@example.com \t'), 'ann@example.com');
    assert.equal(validateEmail('Ann.Marie+tag@sub.example.co.uk'), 'Ann.Marie+tag@sub.example.co.uk');
    assert.equal(validateEmail('jöran@exämple.se'), 'jöran@exämple.se');
  });

  test('refuses what is not one @ with something on each side and no spaces', () => {
    for (const bad of ['', 'ann', '@example.com', 'ann@', 'ann@@example.com', 'a@b@c', 'ann smith@example.com', 'ann@exa mple.com']) {
      const err = refusal(() => validateEmail(bad));
      assert.equal(err.field, 'email');
      assert.equal(err.message, `${JSON.stringify(bad.trim())} is not an e-mail address`);
    }
  });

  test('refuses an address longer than 254 characters', () => {
    const at254 = `${'a'.repeat(254 - '@example.com'.length)}@example.com`;
    assert.equal(validateEmail(at254), at254);
    assert.equal(refusal(() => validateEmail(`a${at254}`)).field, 'email');
  });

  test('refuses control and format characters inside the address: line breaks, NUL, DEL, C1, bidi overrides, zero-width', () => {
    for (const ch of ['\n', '\r', '\u0000', '\u0007', '\u007f', '\u0085', '\u202e', '\u200b', '\u2066', '\ufeff']) {
      const err = refusal(() => validateEmail(`ann${ch}x@example.com`));
      assert.equal(err.field, 'email');
      assert.equal(err.message, 'the e-mail address must not contain control characters or line breaks');
    }
    // At the ends, white space (CR LF included) is trimmed like any other.
    assert.equal(validateEmail('ann@example.com\r\n'), 'ann@example.com');
  });
});

describe('validateName', () => {
  test('trims, and accepts up to 200 characters of any script', () => {
    assert.equal(validateName('  Ann Smith  '), 'Ann Smith');
    assert.equal(validateName('Zoë Ødegård 李小龍'), 'Zoë Ødegård 李小龍');
    assert.equal(validateName('x'.repeat(200)), 'x'.repeat(200));
  });

  test('refuses an empty (or all-blank) name and one over 200 characters', () => {
    for (const blank of ['', '   ', '\t\n']) assert.equal(refusal(() => validateName(blank)).message, 'the name must not be empty');
    const long = refusal(() => validateName('x'.repeat(201)));
    assert.equal(long.field, 'name');
    assert.equal(long.message, 'the name must be at most 200 characters');
  });
});

describe('validateLocale', () => {
  test('accepts simple BCP 47 tags, trimmed', () => {
    for (const tag of ['en', 'nl', 'fil', 'en-GB', 'zh-Hant-TW', 'es-419']) assert.equal(validateLocale(tag), tag);
    assert.equal(validateLocale(' nl '), 'nl');
  });

  test('refuses anything else with the field named', () => {
    for (const bad of ['', 'e', 'english', 'en_GB', 'en-', '-en', '12', 'en-GB-', 'en GB', 'nl\u0000', 'en-verylongsubtag', 'nl;drop']) {
      const err = refusal(() => validateLocale(bad));
      assert.equal(err.field, 'locale');
      assert.equal(err.message, `${JSON.stringify(bad.trim())} is not a language tag such as en or nl`);
    }
  });
});

describe('validatePassword', () => {
  test(`accepts ${MIN_PASSWORD_LENGTH} to ${MAX_PASSWORD_LENGTH} characters, counted as characters`, () => {
    assert.equal(validatePassword('12345678'), '12345678');
    assert.equal(validatePassword('é'.repeat(MIN_PASSWORD_LENGTH)), 'é'.repeat(MIN_PASSWORD_LENGTH));
    assert.equal(validatePassword('x'.repeat(MAX_PASSWORD_LENGTH)), 'x'.repeat(MAX_PASSWORD_LENGTH));
    assert.equal(validatePassword('inner spaces are fine'), 'inner spaces are fine');
  });

  test('refuses too short, too long, and a space at either end (the token endpoint trims parameter values)', () => {
    assert.equal(refusal(() => validatePassword('1234567')).message, `the password must be at least ${MIN_PASSWORD_LENGTH} characters`);
    assert.equal(refusal(() => validatePassword('x'.repeat(MAX_PASSWORD_LENGTH + 1))).message, `the password must be at most ${MAX_PASSWORD_LENGTH} characters`);
    for (const padded of [' 12345678', '12345678 ', '\t12345678', '12345678\n']) {
      const err = refusal(() => validatePassword(padded));
      assert.equal(err.field, 'password');
      assert.equal(err.message, 'the password must not begin or end with a space');
    }
  });
});
