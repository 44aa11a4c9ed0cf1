// The lenient request-head repair (src/http/plugins/lenient-head.ts): the pure repair, then
// raw TCP requests against a small Fastify app using the handler, then the real server.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify, { type FastifyInstance } from 'fastify';
import formbody from '@fastify/formbody';
import { findHeadEnd, lenientHeadClientErrorHandler, repairRequestHead } from '../../../src/http/plugins/lenient-head.js';
import { databaseKinds } from '../../helpers/databases.js';
import { startTestServer } from '../../helpers/server.js';
import { httpLines, rawExchange, rawRequest } from '../../helpers/raw-http.js';

const head = (text: string): Buffer => Buffer.from(text, 'latin1');
const repairText = (text: string): string | undefined => repairRequestHead(head(text))?.toString('latin1');

describe('repairRequestHead', () => {
  test('strips white space after the HTTP version', () => {
    assert.equal(repairText('GET /v2/entry HTTP/1.1 \r\nHost: api.huddle.net \r\n\r\n'), 'GET /v2/entry HTTP/1.1\r\nHost: api.huddle.net \r\n\r\n');
    assert.equal(repairText('GET / HTTP/1.1 \t \r\nHost: a\r\n\r\n'), 'GET / HTTP/1.1\r\nHost: a\r\n\r\n');
  });

  test('removes white space between a field name and its colon', () => {
    assert.equal(
      repairText('POST https://login.huddle.net/refresh HTTP/1.1\r\nUser-Agent: Fiddler\r\nContent-Type : application/x-www-form-urlencoded\r\nHost: login.huddle.net\r\nContent-Length: 95\r\n\r\n'),
      'POST https://login.huddle.net/refresh HTTP/1.1\r\nUser-Agent: Fiddler\r\nContent-Type: application/x-www-form-urlencoded\r\nHost: login.huddle.net\r\nContent-Length: 95\r\n\r\n',
    );
    assert.equal(repairText('GET / HTTP/1.1\r\nX-A \t: 1\r\nX-B  :2\r\n\r\n'), 'GET / HTTP/1.1\r\nX-A: 1\r\nX-B:2\r\n\r\n');
  });

  test('repairs both kinds in one head', () => {
    assert.equal(repairText('GET / HTTP/1.1 \r\nAccept : */*\r\n\r\n'), 'GET / HTTP/1.1\r\nAccept: */*\r\n\r\n');
  });

  test('leaves the value of a field alone (only the name side of the colon is repaired)', () => {
    assert.equal(repairText('GET / HTTP/1.1 \r\nX-Note: a : b \r\n\r\n'), 'GET / HTTP/1.1\r\nX-Note: a : b \r\n\r\n');
  });

  test('refuses to repair the framing fields (request smuggling, RFC 9112 §5.1, §11.2)', () => {
    assert.equal(repairText('POST / HTTP/1.1\r\nContent-Length : 2\r\n\r\n'), undefined);
    assert.equal(repairText('POST / HTTP/1.1\r\ntransfer-encoding\t: chunked\r\n\r\n'), undefined);
    assert.equal(repairText('POST / HTTP/1.1 \r\nContent-Type : a\r\nContent-Length : 2\r\n\r\n'), undefined);
  });

  test('returns undefined when there is nothing of its kind to repair', () => {
    assert.equal(repairText('GET / HTTP/1.1\r\nHost: a\r\n\r\n'), undefined);
    assert.equal(repairText('GET / HTTP/1.1\r\nBad Header: a\r\n\r\n'), undefined);
    assert.equal(repairText('GET / HTTP/1.1\r\nNoColon\r\n\r\n'), undefined);
    assert.equal(repairText('GET / HTTP/9 \r\nHost: a\r\n\r\n'), undefined);
    assert.equal(repairText('GET  /  HTTP/1.1 \r\n\r\n'), undefined);
    // bytes that do not start a request (a packet from the middle of a head)
    assert.equal(repairText('X-A: 1\r\nX-B : 2\r\n\r\n'), undefined);
    // an incomplete head
    assert.equal(repairText('GET / HTTP/1.1 \r\nHost: a\r\n'), undefined);
  });

  test('keeps every other byte, including non-ASCII bytes in values', () => {
    const input = Buffer.concat([head('GET / HTTP/1.1 \r\nX-Bytes: '), Buffer.from([0xc3, 0xa9, 0xff]), head('\r\n\r\n')]);
    const out = repairRequestHead(input);
    assert.ok(out);
    assert.deepEqual(out, Buffer.concat([head('GET / HTTP/1.1\r\nX-Bytes: '), Buffer.from([0xc3, 0xa9, 0xff]), head('\r\n\r\n')]));
  });

  test('findHeadEnd finds the end of the blank line', () => {
    assert.equal(findHeadEnd(head('GET / HTTP/1.1\r\n\r\nbody')), 18);
    assert.equal(findHeadEnd(head('GET / HTTP/1.1\r\nHost: a\r\n')), -1);
  });
});

describe('lenient heads over raw TCP (a small app using the handler)', () => {
  let app: FastifyInstance;
  let url: string;

  before(async () => {
    app = Fastify({ clientErrorHandler: lenientHeadClientErrorHandler, forceCloseConnections: true });
    await app.register(formbody);
    app.all('/echo', async (request) => ({
      method: request.method,
      url: request.url,
      contentType: request.headers['content-type'] ?? null,
      host: request.headers.host ?? null,
      ip: request.ip,
      body: request.body ?? null,
    }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address();
    assert.ok(address && typeof address === 'object');
    url = `http://127.0.0.1:${address.port}`;
  });
  after(async () => {
    await app.close();
  });

  test('a request line with white space after the version is served', async () => {
    const res = await rawRequest(url, httpLines(['GET /echo HTTP/1.1 ', 'Host: api.huddle.net ']));
    assert.equal(res.status, 200);
    assert.deepEqual(res.json(), { method: 'GET', url: '/echo', contentType: null, host: 'api.huddle.net', ip: '127.0.0.1', body: null });
  });

  test('a field with white space before the colon is served under its name', async () => {
    const res = await rawRequest(url, httpLines(['POST /echo HTTP/1.1', 'Content-Type : application/x-www-form-urlencoded', 'Host: x', 'Content-Length: 7'], 'a=1&b=2'));
    assert.equal(res.status, 200);
    assert.deepEqual(res.json(), { method: 'POST', url: '/echo', contentType: 'application/x-www-form-urlencoded', host: 'x', ip: '127.0.0.1', body: { a: '1', b: '2' } });
  });

  test('a head that arrives in pieces, the bad field in the first piece, is repaired', async () => {
    const res = await rawRequest(url, ['POST /echo HTTP/1.1\r\nContent-Type : application/x-www-form-urlencoded\r\n', 'Host: x\r\nContent-Len', 'gth: 3\r\n\r\n', 'a=1']);
    assert.equal(res.status, 200);
    assert.deepEqual((res.json() as { body: unknown }).body, { a: '1' });
  });

  test('a body that arrives after the head is read from the socket', async () => {
    const res = await rawRequest(url, [httpLines(['POST /echo HTTP/1.1 ', 'Content-Type: application/x-www-form-urlencoded', 'Host: x', 'Content-Length: 11']), 'a=1', '&b=22222']);
    assert.equal(res.status, 200);
    assert.deepEqual((res.json() as { body: unknown }).body, { a: '1', b: '22222' });
  });

  test('the repaired connection stays usable for the next (well-formed) request', async () => {
    const { responses, closed } = await rawExchange(url, [
      httpLines(['GET /echo?n=1 HTTP/1.1 ', 'Host: x']),
      httpLines(['GET /echo?n=2 HTTP/1.1', 'Host: x']),
    ], { responses: 2, chunkDelayMs: 50 });
    assert.equal(closed, false);
    assert.deepEqual(responses.map((r) => [r.status, (r.json() as { url: string }).url]), [[200, '/echo?n=1'], [200, '/echo?n=2']]);
  });

  test('only one repair per connection: a second odd head on it gets a clean 400', async () => {
    const { responses, closed } = await rawExchange(url, [
      httpLines(['GET /echo?n=1 HTTP/1.1 ', 'Host: x']),
      httpLines(['GET /echo?n=2 HTTP/1.1 ', 'Host: x']),
    ], { untilClose: true, chunkDelayMs: 50 });
    assert.equal(closed, true);
    assert.deepEqual(responses.map((r) => r.status), [200, 400]);
    assert.deepEqual(responses[1]?.json(), { error: 'invalid_request', error_description: 'the request is not valid HTTP/1.1' });
  });

  const refused: Array<[string, Buffer]> = [
    ['Content-Length with white space before the colon', httpLines(['POST /echo HTTP/1.1', 'Host: x', 'Content-Length : 3'], 'a=1')],
    ['Transfer-Encoding with white space before the colon', httpLines(['POST /echo HTTP/1.1', 'Host: x', 'Transfer-Encoding : chunked'], '3\r\na=1\r\n0\r\n\r\n')],
    ['a field name with a space inside', httpLines(['GET /echo HTTP/1.1', 'Host: x', 'Bad Header: 1'])],
    ['a field line without a colon', httpLines(['GET /echo HTTP/1.1', 'Host: x', 'NoColon'])],
    ['an unknown HTTP version with trailing white space', httpLines(['GET /echo HTTP/7 ', 'Host: x'])],
    ['a repaired head that is still broken', httpLines(['GET /echo HTTP/1.1 ', 'Host: x', 'Bad Header: 1'])],
    ['binary garbage', Buffer.from([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03])],
  ];
  for (const [name, bytes] of refused) {
    test(`refused with a clean 400: ${name}`, async () => {
      const { responses, closed } = await rawExchange(url, [bytes], { untilClose: true });
      assert.equal(closed, true);
      assert.equal(responses.length, 1);
      const res = responses[0];
      assert.ok(res);
      assert.equal(res.status, 400);
      assert.equal(res.headers['content-type'], 'application/json');
      assert.equal(res.headers.connection, 'close');
      assert.deepEqual(res.json(), { error: 'invalid_request', error_description: 'the request is not valid HTTP/1.1' });
    });
  }

  test('a bad field in a later packet than the request line is refused, not misread', async () => {
    const { responses, closed } = await rawExchange(url, ['GET /echo HTTP/1.1\r\nHost: x\r\n', 'Accept : */*\r\n\r\n'], { untilClose: true, chunkDelayMs: 400 });
    assert.equal(closed, true);
    assert.deepEqual(responses.map((r) => r.status), [400]);
  });

  test('a pipelined odd head behind a request in flight is not repaired and nothing crashes', async () => {
    const { responses, closed } = await rawExchange(url, [
      Buffer.concat([httpLines(['GET /echo?n=1 HTTP/1.1', 'Host: x']), httpLines(['GET /echo?n=2 HTTP/1.1 ', 'Host: x'])]),
    ], { untilClose: true });
    assert.equal(closed, true);
    // Node's rule, kept: the 400 goes out unless a response has started; then the socket closes.
    assert.ok(responses.length <= 1);
    for (const r of responses) assert.ok(r.status === 400 || r.status === 200);
    const after = await rawRequest(url, httpLines(['GET /echo HTTP/1.1', 'Host: x']));
    assert.equal(after.status, 200);
  });

  test('an oversized head that starts with a repairable line is 431', async () => {
    const big = `X-Filler: ${'a'.repeat(8000)}\r\n`;
    const res = await rawRequest(url, ['GET /echo HTTP/1.1 \r\n', big, big, big]);
    assert.equal(res.status, 431);
  });

  test('the server closes promptly with a repaired keep-alive connection open', async () => {
    const other = Fastify({ clientErrorHandler: lenientHeadClientErrorHandler, forceCloseConnections: true });
    other.get('/x', async () => ({ ok: true }));
    await other.listen({ port: 0, host: '127.0.0.1' });
    const address = other.server.address();
    assert.ok(address && typeof address === 'object');
    const res = await new Promise<string>((resolve) => {
      // Keep the connection open after the first answer, then close the server under it.
      import('node:net').then(({ default: net }) => {
        const socket = net.connect(address.port, '127.0.0.1', () => socket.write('GET /x HTTP/1.1 \r\nHost: x\r\n\r\n'));
        let data = '';
        socket.on('data', (d: Buffer) => {
          data += d.toString('latin1');
          if (data.includes('{"ok":true}')) void other.close();
        });
        socket.on('close', () => resolve(data));
      }, () => resolve(''));
    });
    assert.match(res, /^HTTP\/1\.1 200 OK/);
  });
});

for (const kind of databaseKinds()) {
  test(`[${kind}] the real server repairs heads and routes absolute-form targets`, async () => {
    const server = await startTestServer(kind, { profile: 'huddle' });
    try {
      const trailing = await rawRequest(server.url, httpLines(['GET /healthz HTTP/1.1 ', 'Host: api.huddle.net ']));
      assert.equal(trailing.status, 200);
      const absolute = await rawRequest(server.url, httpLines(['GET https://login.huddle.net/healthz HTTP/1.1', 'Host: login.huddle.net']));
      assert.equal(absolute.status, 200);
      const both = await rawRequest(server.url, httpLines(['GET https://login.huddle.net/readyz HTTP/1.1 ', 'Accept : application/json', 'Host: login.huddle.net']));
      assert.equal(both.status, 200);
      assert.deepEqual(both.json(), { status: 'ready' });
      const broken = await rawRequest(server.url, httpLines(['GET /healthz HTTP/1.1', 'Content-Length : 0']));
      assert.equal(broken.status, 400);
      assert.equal((broken.json() as { error: string }).error, 'invalid_request');
    } finally {
      await server.close();
    }
  });
}
