// The process logger censors secrets wherever the field names say one is (src/logging.ts),
// without changing the caller's objects, and leaves everything else — errors included — as pino
// would write it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { CENSOR, createLogger, redactSecrets } from '../src/logging.js';

function capture(): { lines: Array<Record<string, unknown>>; stream: Writable } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { lines, stream };
}

test('secret fields are censored at the top level and one level down, headers under headers and req.headers', () => {
  const { lines, stream } = capture();
  const logger = createLogger('info', stream);
  const body = { grant_type: 'refresh_token', refresh_token: 'rt-secret', client_secret: 'cs-secret', scope: 'read' };
  const req = { method: 'POST', url: '/oauth/token', headers: { authorization: 'Basic c2VjcmV0', cookie: 'sid=secret', 'user-agent': 'x' } };
  const fields = {
    password: 'pw-secret', code: 'code-secret', token: 't-secret', access_token: 'at-secret', code_verifier: 'cv-secret',
    body, req, headers: { authorization: 'Bearer secret', accept: 'application/json' }, event: 'test', count: 3,
  };
  logger.info(fields, 'message');
  const [line] = lines;
  assert.ok(line);
  for (const key of ['password', 'code', 'token', 'access_token', 'code_verifier']) assert.equal(line[key], CENSOR, key);
  assert.deepEqual(line.body, { grant_type: 'refresh_token', refresh_token: CENSOR, client_secret: CENSOR, scope: 'read' });
  assert.deepEqual(line.req, { method: 'POST', url: '/oauth/token', headers: { authorization: CENSOR, cookie: CENSOR, 'user-agent': 'x' } });
  assert.deepEqual(line.headers, { authorization: CENSOR, accept: 'application/json' });
  assert.equal(line.event, 'test');
  assert.equal(line.count, 3);
  assert.equal(line.msg, 'message');
  for (const value of ['-secret', 'c2VjcmV0', 'sid=', 'Bearer ']) assert.equal(JSON.stringify(line).includes(value), false, JSON.stringify(line));
  // The caller's objects are untouched.
  assert.equal(fields.password, 'pw-secret');
  assert.equal(body.refresh_token, 'rt-secret');
  assert.equal(req.headers.authorization, 'Basic c2VjcmV0');
});

test('a line without secrets is passed on as it is, and an error keeps its message, stack and code', () => {
  const audit = { audit: true, event: 'token.issued', user_id: 1, client_id: 'app', grant_id: 7, grant_type: 'refresh_token', address: '127.0.0.1', scope: 'read' };
  assert.equal(redactSecrets(audit), audit, 'no copy when nothing is censored');

  const { lines, stream } = capture();
  const logger = createLogger('info', stream);
  const err = Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });
  logger.error({ err, errorId: 'e1' }, 'unhandled error');
  const error = lines[0]?.err as { message: string; stack: string; code: string; type: string } | undefined;
  assert.ok(error);
  assert.equal(error.message, 'database is locked');
  assert.equal(error.code, 'SQLITE_BUSY');
  assert.equal(error.type, 'Error');
  assert.match(error.stack, /database is locked/);
});
