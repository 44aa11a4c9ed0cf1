// The one stylesheet, served with a long cache lifetime.
import type { FastifyInstance } from 'fastify';
import { STYLESHEET } from '../../views/style.js';
import { COPY_SCRIPT } from '../../views/copy-script.js';

export async function assetRoutes(app: FastifyInstance): Promise<void> {
  app.get('/assets/style.css', async (_request, reply) =>
    reply.type('text/css; charset=utf-8').header('Cache-Control', 'public, max-age=3600').send(STYLESHEET));
  app.get('/assets/copy.js', async (_request, reply) =>
    reply.type('text/javascript; charset=utf-8').header('Cache-Control', 'public, max-age=3600').send(COPY_SCRIPT));
}
