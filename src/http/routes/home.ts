// GET /: signed-in people go to their account; visitors see a short welcome.
import type { FastifyInstance } from 'fastify';
import { homePage } from '../../views/home.js';
import { PAGE_ROUTE, sendPage } from '../pages.js';
import { loadSession } from '../session.js';
import { pageTranslator } from '../locale.js';

export async function homeRoutes(app: FastifyInstance): Promise<void> {
  app.get('/', PAGE_ROUTE, async (request, reply) => {
    const session = await loadSession(request);
    if (session?.user) return reply.redirect('/account', 303);
    return sendPage(reply, homePage({ signup: app.services.config.signup, t: pageTranslator(request) }));
  });
}
