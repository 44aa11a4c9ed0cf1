// The one stylesheet and the pages' two small scripts (copy buttons, passkeys), served with a
// long cache lifetime from our own origin: the CSP allows scripts from 'self' only.
import type { FastifyInstance } from 'fastify';
import { STYLESHEET } from '../../views/style.js';
import { COPY_SCRIPT } from '../../views/copy-script.js';
import { WEBAUTHN_SCRIPT } from '../../views/webauthn-script.js';

export async function assetRoutes(app: FastifyInstance): Promise<void> {
  app.get('/assets/style.css', async (_request, reply) =>
    reply.type('text/css; charset=utf-8').header('Cache-Control', 'public, max-age=3600').send(STYLESHEET));
  app.get('/assets/copy.js', async (_request, reply) =>
    reply.type('text/javascript; charset=utf-8').header('Cache-Control', 'public, max-age=3600').send(COPY_SCRIPT));
  app.get('/assets/webauthn.js', async (_request, reply) =>
    reply.type('text/javascript; charset=utf-8').header('Cache-Control', 'public, max-age=3600').send(WEBAUTHN_SCRIPT));
}
