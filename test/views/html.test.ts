// The html`…` template tag (src/html.ts) and the page frame (src/views/layout.ts):
// every interpolated value is escaped unless it is already Html, and the frame carries no
// inline script or style, as the CSP requires.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { escapeHtml, html, Html, raw } from '../../src/html.js';
import { errorPage, layout } from '../../src/views/layout.js';
import { assertNoInlineCode, HOSTILE, HOSTILE_ESCAPED } from '../helpers/markup.js';

describe('escapeHtml and html``', () => {
  test('each dangerous character has its entity', () => {
    assert.equal(escapeHtml('&'), '&amp;');
    assert.equal(escapeHtml('<'), '&lt;');
    assert.equal(escapeHtml('>'), '&gt;');
    assert.equal(escapeHtml('"'), '&quot;');
    assert.equal(escapeHtml("'"), '&#39;');
    assert.equal(escapeHtml('`'), '&#96;');
    assert.equal(escapeHtml(HOSTILE), HOSTILE_ESCAPED);
    // Escaping twice escapes the ampersands again: values are escaped once, at the template.
    assert.equal(escapeHtml('&lt;'), '&amp;lt;');
  });

  test('other text passes unchanged, non-ASCII and control characters included', () => {
    const plain = 'Zoë = 3 + 4; 李 / 100% \u202e\u0000 ok';
    assert.equal(escapeHtml(plain), plain);
  });

  test('an interpolated string is escaped in text and in attributes, so it cannot leave a quoted attribute', () => {
    const value = '" onmouseover="alert(1)';
    const out = html`<p title="${value}">${HOSTILE}</p>`.toString();
    assert.equal(out, `<p title="&quot; onmouseover=&quot;alert(1)">${HOSTILE_ESCAPED}</p>`);
    assert.equal(html`<p title='${"' x='y"}'>`.toString(), "<p title='&#39; x=&#39;y'>");
  });

  test('Html values (nested templates, raw) are not escaped again; arrays are joined; null, undefined and false render nothing', () => {
    const inner = html`<b>${'<i>'}</b>`;
    assert.ok(inner instanceof Html);
    assert.equal(html`<p>${inner}</p>`.toString(), '<p><b>&lt;i&gt;</b></p>');
    assert.equal(html`${raw('<hr>')}`.toString(), '<hr>');
    assert.equal(html`<ul>${['<a>', html`<li>b</li>`, ['&', null]]}</ul>`.toString(), '<ul>&lt;a&gt;<li>b</li>&amp;</ul>');
    assert.equal(html`[${null}${undefined}${false}]`.toString(), '[]');
    assert.equal(html`${0} ${42} ${true}`.toString(), '0 42 true');
  });
});

describe('layout', () => {
  test('a page for an anonymous visitor: title and body escaped, a sign-in link, no inline script or style', () => {
    const page = layout({ title: HOSTILE, body: html`<p>${HOSTILE}</p>` }).toString();
    assert.ok(page.startsWith('<!doctype html>'));
    assert.ok(page.includes(`<title>${HOSTILE_ESCAPED} · Latchkey</title>`));
    assert.ok(page.includes(`<p>${HOSTILE_ESCAPED}</p>`));
    assert.ok(!page.includes('<script>alert'), 'nothing unescaped');
    assert.ok(page.includes('<a href="/login">Sign in</a>'));
    assert.ok(!page.includes('action="/logout"'));
    assert.ok(page.includes('<link rel="stylesheet" href="/assets/style.css">'));
    assertNoInlineCode(page);
  });

  test('a signed-in page: the sign-out form posts the CSRF token, escaped like any value', () => {
    const page = layout({ title: 'Account', body: '', userName: HOSTILE, csrfToken: 'tok"en<' }).toString();
    assert.ok(page.includes('<form method="post" action="/logout" class="inline"><input type="hidden" name="csrf_token" value="tok&quot;en&lt;">'));
    assert.ok(!page.includes('<a href="/login">Sign in</a>'));
    assertNoInlineCode(page);
  });

  test('a name without a CSRF token is not a signed-in header', () => {
    const page = layout({ title: 'x', body: '', userName: 'Ann', csrfToken: null }).toString();
    assert.ok(page.includes('<a href="/login">Sign in</a>'));
  });

  test('an error page says its sentence, escaped, and nothing else', () => {
    const page = errorPage('Not found', `No client ${HOSTILE}`).toString();
    assert.ok(page.includes(`<h1>Not found</h1><p>No client ${HOSTILE_ESCAPED}</p>`));
    assertNoInlineCode(page);
  });
});
