// The token endpoint's routes, listed once: registered by routes/token.ts, limited per address
// by plugins/rate-limit.ts, measured by plugins/metrics.ts.
//   POST /oauth/token   RFC 6749 §3.2
//   POST /token         its alias (Huddle)
//   POST /refresh       Huddle: refresh_token only, where a client registered with
//                       refresh_without_secret may send client_id alone

export interface TokenRoute {
  method: 'POST';
  path: string;
  /** Only grant_type=refresh_token is answered here (and refresh_without_secret applies). */
  refreshOnly: boolean;
}

export const TOKEN_ROUTES: readonly TokenRoute[] = [
  { method: 'POST', path: '/oauth/token', refreshOnly: false },
  { method: 'POST', path: '/token', refreshOnly: false },
  { method: 'POST', path: '/refresh', refreshOnly: true },
];

/** The token routes by path, for the per-response lookups (metrics). */
export const TOKEN_ROUTES_BY_PATH: ReadonlyMap<string, TokenRoute> = new Map(TOKEN_ROUTES.map((r) => [r.path, r]));
