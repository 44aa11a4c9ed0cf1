// The ceiling: a bare node:http server answering a small JSON document, the fastest any Node
// HTTP endpoint on this machine can be. GET answers at once; other methods read the body
// first, like a token endpoint has to.
import { createServer } from 'node:http';

const port = Number(process.argv[process.argv.indexOf('--port') + 1]);
const BODY = Buffer.from(JSON.stringify({ id: 1, name: 'John Doe', email: 'john@doe.com', locale: 'nl' }));

const server = createServer((req, res) => {
  const answer = () => {
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': BODY.length, 'cache-control': 'no-store' });
    res.end(BODY);
  };
  if (req.method === 'GET' || req.method === 'HEAD') {
    answer();
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    // Touch the body the way a form parser would, so the POST ceiling is not free.
    void new URLSearchParams(Buffer.concat(chunks).toString('utf8')).get('grant_type');
    answer();
  });
});
server.keepAliveTimeout = 65_000;
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
