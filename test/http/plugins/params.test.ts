// Request parameters (src/http/plugins/params.ts) on the bodies Huddle's guide prints, byte
// for byte, and the refusals every body format shares.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mergeParams, parseFormBody, toParams } from '../../../src/http/plugins/params.js';
import { OAuthError } from '../../../src/oauth/errors.js';

const params = (body: string) => ({ ...toParams(parseFormBody(body)) });

function refused(fn: () => unknown, description: RegExp): void {
  assert.throws(fn, (err: unknown) => err instanceof OAuthError && err.code === 'invalid_request' && description.test(err.description));
}

describe("Huddle's printed bodies", () => {
  test('step 1: "grant_type=password &username=…" and a trailing space after the password', () => {
    assert.deepEqual(params('client_id=CloudHack&client_secret=!CloudHackp455w0rd88!&grant_type=password &username=aValidUsername&password=aValidPassword '), {
      client_id: 'CloudHack',
      client_secret: '!CloudHackp455w0rd88!',
      grant_type: 'password',
      username: 'aValidUsername',
      password: 'aValidPassword',
    });
  });

  test('step 3: "refresh_token= d831…" with its leading space', () => {
    assert.deepEqual(params('grant_type=Refresh_Token&client_id=CloudHack&refresh_token= d831520f-4929-40b1-8fd9-8ac408815170'), {
      grant_type: 'Refresh_Token',
      client_id: 'CloudHack',
      refresh_token: 'd831520f-4929-40b1-8fd9-8ac408815170',
    });
  });

  test('"+" and %20 are spaces, trimmed at the ends like a literal space', () => {
    assert.deepEqual(params('refresh_token=+abc%20&scope=profile+email'), { refresh_token: 'abc', scope: 'profile email' });
  });
});

describe('refusals shared by every body format', () => {
  test('repeats, in the body and between query and body (RFC 6749 §3.2)', () => {
    refused(() => params('a=1&a=2'), /must not be repeated/);
    refused(() => params('a=1&a =2'), /must not be repeated/);
    refused(() => mergeParams(toParams({ a: '1' }, 'query'), toParams({ a: '1' })), /must not be repeated/);
    assert.deepEqual({ ...mergeParams(toParams({ a: '1' }, 'query'), toParams({ b: '2' })) }, { a: '1', b: '2' });
  });

  test('bytes that are not UTF-8: %FF, and raw bytes the decoders turned into U+FFFD', () => {
    refused(() => params('username=%FF'), /not valid percent-encoded UTF-8/);
    refused(() => params('username=%C3'), /not valid percent-encoded UTF-8/);
    refused(() => params(`username=${Buffer.from([0xff]).toString('utf8')}`), /not valid UTF-8/);
    refused(() => toParams({ [`x${Buffer.from([0xfe]).toString('utf8')}`]: 'y' }), /not valid UTF-8/);
  });

  test('shapes that are not name/value pairs', () => {
    refused(() => toParams(['grant_type', 'password']), /name\/value parameters/);
    refused(() => toParams('grant_type=password'), /name\/value parameters/);
    refused(() => toParams({ username: { email: 'a@b' } }), /must be a string/);
    refused(() => toParams({ a: 'x\u0000y' }), /NUL/);
    assert.deepEqual({ ...toParams({ client_id: 123456789, flag: true, gone: null }) }, { client_id: '123456789', flag: 'true' });
  });
});
