// Operations: liveness (the process answers) and readiness (the database answers).
import type { FastifyInstance } from 'fastify';

export async function healthRoutes(app: FastifyInstance): Promise<void> {
  app.get('/healthz', async (_request, reply) => reply.header('Cache-Control', 'no-store').send({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    try {
      await app.services.store.ping();
      return reply.header('Cache-Control', 'no-store').send({ status: 'ready' });
    } catch (err) {
      app.log.warn({ err }, 'readiness check failed');
      return reply.code(503).header('Cache-Control', 'no-store').send({ status: 'unavailable', error: 'database unreachable' });
    }
  });
}
