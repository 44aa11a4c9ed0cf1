// Every route group, in one list. Adding an endpoint group = one file in routes/ and one line here.
import type { FastifyInstance } from 'fastify';
import { accountRoutes } from './account.js';
import { assetRoutes } from './assets.js';
import { authorizeRoutes } from './authorize.js';
import { developerRoutes } from './developer.js';
import { factorRoutes } from './factors.js';
import { emailVerificationRoutes } from './email-verification.js';
import { healthRoutes } from './health.js';
import { homeRoutes } from './home.js';
import { introspectRoutes } from './introspect.js';
import { jwksRoutes } from './jwks.js';
import { loginRoutes } from './login.js';
import { logoutRoutes } from './logout.js';
import { metadataRoutes } from './metadata.js';
import { orgRoutes } from './orgs.js';
import { passwordResetRoutes } from './password-reset.js';
import { registrationRoutes } from './register.js';
import { protectedResourceRoutes } from './protected-resource.js';
import { revokeRoutes } from './revoke.js';
import { signupRoutes } from './signup.js';
import { tokenRoutes } from './token.js';
import { userinfoRoutes } from './userinfo.js';

export const ROUTES: Array<(app: FastifyInstance) => Promise<void>> = [
  healthRoutes,
  assetRoutes,
  loginRoutes,
  factorRoutes,
  authorizeRoutes,
  logoutRoutes,
  homeRoutes,
  signupRoutes,
  passwordResetRoutes,
  accountRoutes,
  emailVerificationRoutes,
  developerRoutes,
  orgRoutes,
  metadataRoutes,
  protectedResourceRoutes,
  jwksRoutes,
  revokeRoutes,
  introspectRoutes,
  registrationRoutes,
  tokenRoutes,
  userinfoRoutes,
];
