// Every route group, in one list. Adding an endpoint group = one file in routes/ and one line here.
import type { FastifyInstance } from 'fastify';
import { assetRoutes } from './assets.js';
import { healthRoutes } from './health.js';

export const ROUTES: Array<(app: FastifyInstance) => Promise<void>> = [
  healthRoutes,
  assetRoutes,
];
