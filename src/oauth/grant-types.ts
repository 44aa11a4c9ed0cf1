// The grant types this server implements (RFC 6749 §4 and §6), one handler each in grants/.
// A protocol fact, so it lives in the core: store/clients.ts records which of them each client
// may use, and metadata.ts publishes them, without src/oauth loading the store.
export const GRANT_TYPES = ['authorization_code', 'refresh_token', 'password', 'client_credentials'] as const;
export type GrantType = (typeof GRANT_TYPES)[number];
