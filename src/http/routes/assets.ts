// The one stylesheet, served with a long cache lifetime.
import type { FastifyInstance } from 'fastify';
import { STYLESHEET } from '../../views/style.js';

export async function assetRoutes(app: FastifyInstance): Promise<void> {
  app.get('/assets/style.css', async (_request, reply) =>
    reply.type('text/css; charset=utf-8').header('Cache-Control', 'public, max-age=3600').send(STYLESHEET));
}
