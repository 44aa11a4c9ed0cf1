// The translation layer (src/i18n): which language a page speaks (account locale, else
// ui_locales, else Accept-Language with q-values; anything else English, never a throw), and
// what the catalogues promise (every key in every language, the same placeholders and tags,
// values escaped).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { catalogue, ENGLISH, fromAcceptLanguage, LOCALES, pickLocale, supportedLocale, translator, translatorFor, waitText, type MessageKey } from '../../src/i18n/index.js';
import { lockoutMessage } from '../../src/oauth/lockout.js';
import { en } from '../../src/i18n/en.js';
import { html } from '../../src/html.js';
import { HOSTILE, HOSTILE_ESCAPED } from '../helpers/markup.js';

describe('pickLocale', () => {
  test('the account locale wins, then ui_locales, then Accept-Language, then English', () => {
    assert.equal(pickLocale({ accountLocale: 'nl', uiLocales: 'de', acceptLanguage: 'de' }), 'nl');
    assert.equal(pickLocale({ accountLocale: null, uiLocales: 'de', acceptLanguage: 'nl' }), 'de');
    assert.equal(pickLocale({ uiLocales: null, acceptLanguage: 'nl' }), 'nl');
    assert.equal(pickLocale({}), 'en');
    assert.equal(pickLocale({ accountLocale: 'en', acceptLanguage: 'nl' }), 'en', 'an English account stays English');
  });

  test('a source naming no language we speak is passed over', () => {
    assert.equal(pickLocale({ accountLocale: 'fr', uiLocales: 'es pt', acceptLanguage: 'de' }), 'de');
    assert.equal(pickLocale({ accountLocale: 'fr', uiLocales: 'es nl-BE', acceptLanguage: 'de' }), 'nl', 'the first ui_locales we speak');
    assert.equal(pickLocale({ accountLocale: 'ja', acceptLanguage: 'zh, ko' }), 'en');
  });

  test('region and script tags map to their language', () => {
    for (const [tag, want] of [['nl-BE', 'nl'], ['NL-nl', 'nl'], ['de-CH', 'de'], ['de-Latn-AT', 'de'], ['en-GB', 'en'], ['nld', null], ['dutch', null]] as const) {
      assert.equal(supportedLocale(tag), want, tag);
    }
    assert.equal(pickLocale({ accountLocale: 'de-CH' }), 'de');
    assert.equal(pickLocale({ acceptLanguage: 'nl-BE' }), 'nl');
  });

  test('Accept-Language: by q-value, equal q in the order sent, q=0 refuses', () => {
    assert.equal(fromAcceptLanguage('nl-NL,nl;q=0.9,en-US;q=0.8,en;q=0.7'), 'nl');
    assert.equal(fromAcceptLanguage('en;q=0.5, de;q=0.8, nl;q=0.7'), 'de');
    assert.equal(fromAcceptLanguage('fr, de;q=0.1, nl;q=0.2'), 'nl', 'a language we do not speak is skipped, then by q');
    assert.equal(fromAcceptLanguage('nl, de'), 'nl');
    assert.equal(fromAcceptLanguage('de, nl'), 'de');
    assert.equal(fromAcceptLanguage('nl;q=0, de;q=0.1'), 'de', 'q=0 means not Dutch');
    assert.equal(fromAcceptLanguage('nl;q=0, nl-BE'), null, 'a refused language stays refused for its regions');
    assert.equal(fromAcceptLanguage('fr, *;q=0.5, nl;q=0.4'), 'en', '* before Dutch: the default');
    assert.equal(fromAcceptLanguage('*'), 'en');
    assert.equal(fromAcceptLanguage('NL;Q=1.000'), 'nl', 'case-insensitive, q=1.000 is valid');
    assert.equal(fromAcceptLanguage('  de ;  q=0.9 '), 'de', 'white space around parts');
    assert.equal(fromAcceptLanguage(''), null);
  });

  test('malformed ranges and q-values are skipped; control characters or a huge header mean English', () => {
    assert.equal(fromAcceptLanguage('de;q=2, nl'), 'nl', 'q above 1 is malformed');
    assert.equal(fromAcceptLanguage('de;q=abc, nl;q=0.5'), 'nl');
    assert.equal(fromAcceptLanguage('de;q=0.1234, nl;q=0.5'), 'nl', 'more than three decimals');
    assert.equal(fromAcceptLanguage('d e, n<l>, nl'), 'nl');
    assert.equal(fromAcceptLanguage(';;;,,,='), null);
    for (const header of ['nl\u0000', 'nl\r\nX-Evil: 1', 'de\u007f', 'nl\u0085', '\u001bnl', 'nl\t;q=1']) {
      assert.equal(pickLocale({ acceptLanguage: header }), 'en', JSON.stringify(header));
      assert.equal(pickLocale({ uiLocales: header }), 'en', `ui_locales ${JSON.stringify(header)}`);
      assert.equal(pickLocale({ accountLocale: header }), 'en', `account ${JSON.stringify(header)}`);
    }
    assert.equal(pickLocale({ acceptLanguage: `${'x-'.repeat(600)}, nl` }), 'en', 'too long to read');
    assert.equal(pickLocale({ acceptLanguage: ['fr', 'nl;q=0.5'] }), 'nl', 'repeated headers are read in order');
  });

  test('never throws, whatever it is given, and always answers a language we speak', () => {
    const anything = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.constant(null), fc.constant(undefined), fc.array(fc.string()));
    fc.assert(fc.property(anything, anything, anything, (accountLocale, uiLocales, acceptLanguage) => {
      // Deliberately untyped input: headers and stored values come from outside.
      const locale = pickLocale({ accountLocale, uiLocales, acceptLanguage } as Parameters<typeof pickLocale>[0]);
      assert.ok((LOCALES as readonly string[]).includes(locale));
    }), { numRuns: 2000 });
    // Built from real-looking pieces, so that q-values and tags are exercised too.
    const piece = fc.tuple(fc.constantFrom('nl', 'de', 'en', 'fr', '*', 'nl-BE', 'de-CH', '', ' ', 'x'), fc.constantFrom('', ';q=0', ';q=0.5', ';q=1', ';q=', ';q=1.5', ';level=1', ';q=0.001'))
      .map(([tag, q]) => tag + q);
    fc.assert(fc.property(fc.array(piece, { maxLength: 12 }), (parts) => {
      const locale = pickLocale({ acceptLanguage: parts.join(',') });
      assert.ok((LOCALES as readonly string[]).includes(locale));
    }), { numRuns: 2000 });
    assert.equal(pickLocale(null as unknown as Parameters<typeof pickLocale>[0]), 'en');
  });
});

describe('catalogues', () => {
  const keys = Object.keys(en) as MessageKey[];
  const placeholders = (text: string) => [...text.matchAll(/\{([A-Za-z0-9_]+)\}/g)].map((m) => m[1]).sort();
  const tags = (text: string) => [...text.matchAll(/<\/?[a-z]+>/g)].map((m) => m[0]).sort();

  test('Dutch and German have every key, with the same placeholders and markup as English, and say something else', () => {
    for (const locale of ['nl', 'de'] as const) {
      const other = catalogue(locale);
      assert.deepEqual(Object.keys(other).sort(), [...keys].sort(), `${locale}: the same keys`);
      let same = 0;
      for (const key of keys) {
        const text = other[key];
        assert.ok(text.trim() !== '', `${locale} ${key} is empty`);
        assert.deepEqual(placeholders(text), placeholders(en[key]), `${locale} ${key}: placeholders`);
        assert.deepEqual(tags(text), tags(en[key]), `${locale} ${key}: markup`);
        assert.doesNotMatch(text, /<(?!\/?(strong|em|code|hidden)>)/, `${locale} ${key}: only the allowed tags`);
        if (text === en[key]) same += 1;
      }
      // Words such as "Name", "Scopes" or "Admin" are the same; the pages as a whole are not.
      assert.ok(same < keys.length / 10, `${locale}: ${same} of ${keys.length} texts are still English`);
    }
  });

  test('t fills placeholders as plain text and drops markup; th escapes the values and keeps the allowed tags', () => {
    const nl = translator('nl');
    assert.equal(nl.t('consent.title', { client: 'Hover' }), 'Hover toegang geven tot je account?');
    assert.equal(nl.t('consent.heading', { client: 'Hover' }), 'Hover toegang geven tot je account?');
    assert.equal(nl.th('consent.heading', { client: HOSTILE }).toString(), `<strong>${HOSTILE_ESCAPED}</strong> toegang geven tot je account?`);
    assert.equal(ENGLISH.th('consent.heading', { client: html`<em>x</em>` }).toString(), 'Allow <strong><em>x</em></strong> to access your account?', 'Html values as they are');
    assert.equal(ENGLISH.th('orgs.member.remove', { name: 'Bo' }).toString(), 'Remove<span class="visually-hidden"> Bo</span>');
    assert.equal(ENGLISH.t('orgs.member.remove', { name: 'Bo' }), 'Remove Bo');
    assert.equal(translator('de').t('developer.list.redirectCount.other', { count: 3 }), '3 Weiterleitungs-URIs');
    assert.equal(ENGLISH.th('developer.delete.text', { name: 'A&B' }).toString().slice(0, 40), '<strong>A&amp;B</strong> is deleted for ');
    // A value that looks like a placeholder is not filled again.
    assert.equal(ENGLISH.t('common.signedInAs', { name: '{email}', email: 'a@example.com' }), 'Signed in as {email} (a@example.com).');
  });

  test('waits are worded as the English lockout message words them, in every language', () => {
    for (const seconds of [1, 45, 119, 120, 901]) {
      const english = lockoutMessage({ subject: 'account', retryAfter: seconds });
      assert.equal(ENGLISH.t('login.error.tooManyFailed', { wait: waitText(ENGLISH, seconds) }), english);
    }
    assert.equal(waitText(translator('nl'), 300), '5 minuten');
    assert.equal(waitText(translator('de'), 1), '1 Sekunde');
  });

  test('mails get the same translators, by the recipient\'s account locale', () => {
    assert.equal(translatorFor({ accountLocale: 'nl-NL' }).t('login.forgotPassword'), 'Wachtwoord vergeten?');
    assert.equal(translatorFor({ accountLocale: 'de' }).locale, 'de');
    assert.equal(translatorFor({ accountLocale: 'fr' }).locale, 'en');
  });
});
