// The form_post page (views/form-post.ts): its own CSP names exactly its script and the redirect
// URI's origin, and nothing a registered URI holds can add a directive or break out of a value.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { formActionSource, formPostPage, formPostPolicy } from '../../src/views/form-post.js';

test('form_post policy: the script by hash, the form to the redirect origin, nothing else', () => {
  const policy = formPostPolicy('https://rp.example:8443/cb?tenant=1');
  const script = /<script>([^<]*)<\/script>/.exec(formPostPage('https://rp.example/cb', { code: 'c' }).toString())?.[1] ?? '';
  const hash = createHash('sha256').update(script).digest('base64');
  assert.equal(policy, `default-src 'none'; script-src 'sha256-${hash}'; form-action https://rp.example:8443; frame-ancestors 'none'; base-uri 'none'`);
  assert.equal(formActionSource('com.example.app:/oauth'), 'com.example.app:');
  assert.equal(formActionSource('http://127.0.0.1:9/cb'), 'http://127.0.0.1:9');
});

test('form_post policy: a host holding ; , or quotes never reaches the policy', () => {
  for (const uri of ['https://a;b.example/cb', 'https://a,b.example/cb', "https://a'b.example/cb", 'not a uri', 'https://a b.example/cb']) {
    const source = formActionSource(uri);
    assert.ok(source === "'none'" || !/[;,'\s]/.test(source.replace(/^'none'$/, '')), `${uri} → ${source}`);
    assert.equal(formPostPolicy(uri).split(';').length, 5, uri);
  }
});

test('form_post page: every value escaped inside its attribute, lone surrogates replaced, undefined left out', () => {
  const page = formPostPage('https://rp.example/cb?x="1"', { code: 'c', state: '"><script>alert(1)</script>\uD800', iss: undefined }).toString();
  assert.ok(page.includes('action="https://rp.example/cb?x=&quot;1&quot;"'));
  assert.ok(page.includes('value="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;\uFFFD"'));
  assert.ok(!page.includes('name="iss"'));
  assert.equal(page.match(/<script>/g)?.length, 1);
});
