// The profiles table of SPEC.md: token lifetimes and the quirks each API guide documents.

export type ProfileName = 'standard' | 'housecheck' | 'huddle' | 'hover';

export interface ProfileSettings {
  accessTokenTtl: number;
  /** null: refresh tokens never expire (Hover). */
  refreshTokenTtl: number | null;
  authorizationCodeTtl: number;
  /** Status for an expired access token at a protected resource (Huddle: 403). */
  expiredTokenStatus: 401 | 403;
  /** Status for invalid_grant / invalid_request at the token endpoint (Hover: 401). */
  tokenErrorStatus: 400 | 401;
}

const DAY = 86_400;

export const PROFILES: Readonly<Record<ProfileName, ProfileSettings>> = {
  standard: { accessTokenTtl: 3600, refreshTokenTtl: 30 * DAY, authorizationCodeTtl: 600, expiredTokenStatus: 401, tokenErrorStatus: 400 },
  housecheck: { accessTokenTtl: 86_400, refreshTokenTtl: 3 * DAY, authorizationCodeTtl: 600, expiredTokenStatus: 401, tokenErrorStatus: 400 },
  huddle: { accessTokenTtl: 1200, refreshTokenTtl: 30 * DAY, authorizationCodeTtl: 600, expiredTokenStatus: 403, tokenErrorStatus: 400 },
  hover: { accessTokenTtl: 7200, refreshTokenTtl: null, authorizationCodeTtl: 600, expiredTokenStatus: 401, tokenErrorStatus: 401 },
};

export function isProfileName(name: string): name is ProfileName {
  return Object.prototype.hasOwnProperty.call(PROFILES, name);
}
