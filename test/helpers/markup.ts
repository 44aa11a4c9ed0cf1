// What the Content-Security-Policy (script-src 'self', style-src 'self', no 'unsafe-inline')
// requires of our markup: checks shared by the view tests.
import assert from 'node:assert/strict';

/** Fails when `page` carries anything the CSP would block or that would run inline. */
export function assertNoInlineCode(page: string): void {
  for (const m of page.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)) {
    assert.match(m[1] ?? '', /\ssrc="\/[^"/][^"]*"/, `a script loads a file of our own: ${m[0]}`);
    assert.equal(m[2], '', `no inline script body: ${m[0]}`);
  }
  assert.equal((page.match(/<script\b/gi) ?? []).length, (page.match(/<\/script>/gi) ?? []).length, 'every <script> is closed');
  assert.doesNotMatch(page, /<style\b/i, 'no <style> element');
  for (const m of page.matchAll(/<[a-zA-Z][^>]*>/g)) {
    // The attribute names of the tag: quoted values (escaped, so they hold no quote) taken out.
    const names = m[0].replace(/"[^"]*"|'[^']*'/g, '""');
    assert.doesNotMatch(names, /\sstyle\s*=/i, `no style attribute: ${m[0]}`);
    assert.doesNotMatch(names, /\son[a-z]+\s*=/i, `no event-handler attribute: ${m[0]}`);
  }
  assert.doesNotMatch(page, /javascript:/i, 'no javascript: URL');
  for (const m of page.matchAll(/<link\b[^>]*>/gi)) assert.match(m[0], /\shref="\/[^"/]/, `a stylesheet of our own: ${m[0]}`);
}

/** A value that breaks out of text, attributes and quotes if anything is left unescaped. */
export const HOSTILE = `<script>alert("x")</script><img src=x onerror='y'>&amp;\``;
export const HOSTILE_ESCAPED = '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&lt;img src=x onerror=&#39;y&#39;&gt;&amp;amp;&#96;';
