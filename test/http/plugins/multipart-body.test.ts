// The strict multipart/form-data parser (src/http/plugins/multipart-body.ts), RFC 7578.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { multipartBoundary, parseMultipartBody } from '../../../src/http/plugins/multipart-body.js';
import { OAuthError } from '../../../src/oauth/errors.js';

const B = 'XyZ-boundary';
const CT = `multipart/form-data; boundary=${B}`;

function part(name: string, value: string, extraHeaders = ''): string {
  return `--${B}\r\nContent-Disposition: form-data; name="${name}"\r\n${extraHeaders}\r\n${value}\r\n`;
}
const close = `--${B}--\r\n`;
const parse = (body: string | Buffer, ct = CT) => ({ ...parseMultipartBody(typeof body === 'string' ? Buffer.from(body, 'utf8') : body, ct) });

function refused(fn: () => unknown, description: RegExp): void {
  assert.throws(fn, (err: unknown) => err instanceof OAuthError && err.code === 'invalid_request' && description.test(err.description));
}

describe('parseMultipartBody', () => {
  test('text fields, as fetch/undici, curl -F and requests send them', () => {
    assert.deepEqual(parse(part('grant_type', 'authorization_code') + part('code', 'abc') + close), { grant_type: 'authorization_code', code: 'abc' });
    // A part Content-Type (text/plain) is allowed; the value is taken as UTF-8.
    assert.deepEqual(parse(part('name', 'Zoë', 'Content-Type: text/plain; charset=utf-8\r\n') + close), { name: 'Zoë' });
  });

  test('empty values, a preamble, an epilogue, transport padding and a quoted boundary', () => {
    assert.deepEqual(parse(part('scope', '') + close), { scope: '' });
    assert.deepEqual(parse(`preamble text\r\n${part('a', '1')}${close}epilogue`), { a: '1' });
    assert.deepEqual(parse(`--${B}  \r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n${close}`), { a: '1' });
    assert.deepEqual(parse(part('a', '1') + close, `multipart/form-data; boundary="${B}"`), { a: '1' });
    assert.deepEqual(parse(part('a', '1') + close, `Multipart/Form-Data; charset=utf-8; BOUNDARY=${B}`), { a: '1' });
  });

  test('values may hold CRLF and boundary-like text that is not a delimiter', () => {
    assert.deepEqual(parse(part('a', `line1\r\nline2 --${B}x`) + close), { a: `line1\r\nline2 --${B}x` });
  });

  test('a repeated name becomes an array (for toParams to refuse)', () => {
    assert.deepEqual(parse(part('a', '1') + part('a', '2') + close), { a: ['1', '2'] });
  });

  test('a body with no parts at all is empty', () => {
    assert.deepEqual(parse(close), {});
  });

  test('refuses what is not a well-formed text-field body', () => {
    refused(() => parse(part('a', '1') + close, 'multipart/form-data'), /boundary parameter/);
    refused(() => parse(part('a', '1')), /ends before its closing boundary/);
    refused(() => parse(part('a', '1').slice(0, -2)), /ends before its closing boundary/);
    refused(() => parse(part('a', '1').slice(0, -9)), /malformed headers/);
    refused(() => parse(`--${B}\r\nContent-Disposition: form-data; name="a"`), /malformed headers/);
    refused(() => parse('no delimiter here'), /no part delimited/);
    refused(() => parse(`--${B}\r\nContent-Type: text/plain\r\n\r\n1\r\n${close}`), /Content-Disposition: form-data/);
    refused(() => parse(`--${B}\r\nContent-Disposition: attachment; name="a"\r\n\r\n1\r\n${close}`), /Content-Disposition: form-data/);
    refused(() => parse(`--${B}\r\nContent-Disposition: form-data\r\n\r\n1\r\n${close}`), /no name/);
    refused(() => parse(`--${B}\r\nBroken header line\r\n\r\n1\r\n${close}`), /malformed headers/);
    refused(() => parse(`--${B}garbage\r\n`), /ends before its closing boundary/);
  });

  test('refuses file parts', () => {
    refused(() => parse(`--${B}\r\nContent-Disposition: form-data; name="a"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\n1\r\n${close}`), /file parts/);
    refused(() => parse(`--${B}\r\nContent-Disposition: form-data; name="a"; filename*=UTF-8''a.txt\r\n\r\n1\r\n${close}`), /file parts/);
  });

  test('refuses bytes that are not UTF-8, in values and in names', () => {
    const badValue = Buffer.concat([Buffer.from(`--${B}\r\nContent-Disposition: form-data; name="a"\r\n\r\n`), Buffer.from([0xff, 0xfe]), Buffer.from(`\r\n${close}`)]);
    refused(() => parse(badValue), /not valid UTF-8/);
    const badName = Buffer.concat([Buffer.from(`--${B}\r\nContent-Disposition: form-data; name="`), Buffer.from([0xc3]), Buffer.from(`"\r\n\r\n1\r\n${close}`)]);
    refused(() => parse(badName), /not valid UTF-8/);
  });

  test('refuses more than 100 parts', () => {
    refused(() => parse(Array.from({ length: 101 }, (_, i) => part(`p${i}`, 'x')).join('') + close), /too many parts/);
  });

  test('multipartBoundary reads quoted and bare boundaries', () => {
    assert.equal(multipartBoundary('multipart/form-data; boundary=abc'), 'abc');
    assert.equal(multipartBoundary('multipart/form-data; boundary="a b:c"'), 'a b:c');
    refused(() => multipartBoundary('multipart/form-data; boundary='), /boundary parameter/);
    refused(() => multipartBoundary(undefined), /boundary parameter/);
  });
});
