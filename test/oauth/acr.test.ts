// The acr rules (src/oauth/acr.ts) as properties over every login and every essential request:
// an ID token never claims more than the login did; under an essential request it names one of
// the values asked for whenever the login meets one; the level follows the amr.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ACR_VALUES, acrForIdToken, acrMeets, acrOfAmr, acrRank, essentialAcrValues } from '../../src/oauth/acr.js';
import type { ClaimsRequest } from '../../src/oauth/model.js';

const METHODS = ['pwd', 'otp', 'hwk', 'swk', 'mfa', 'user', 'pin', 'face'];
const VALUE = fc.oneof(fc.constantFrom<unknown>(...ACR_VALUES, 'phrh', '1', '2', 'urn:other'), fc.string(), fc.integer(), fc.boolean(), fc.constant(null));

test('acr follows the amr: pwd, mfa, phr', () => {
  assert.equal(acrOfAmr(['pwd']), 'urn:latchkey:acr:pwd');
  assert.equal(acrOfAmr([]), 'urn:latchkey:acr:pwd');
  assert.equal(acrOfAmr(['pwd', 'otp', 'mfa']), 'urn:latchkey:acr:mfa');
  assert.equal(acrOfAmr(['hwk', 'mfa']), 'phr');
  assert.equal(acrOfAmr(['pwd', 'swk', 'mfa']), 'phr');
  assert.equal(acrOfAmr(['hwk']), 'urn:latchkey:acr:pwd', 'a passkey without user verification is one factor, and not claimed as phr');
});

test('an ID token never claims more than the login, and names a requested value whenever the login meets one', () => {
  fc.assert(fc.property(
    fc.subarray(METHODS),
    fc.option(fc.record({ essential: fc.option(fc.boolean(), { nil: undefined }), value: fc.option(VALUE, { nil: undefined }), values: fc.option(fc.array(VALUE, { maxLength: 5 }), { nil: undefined }) }, { requiredKeys: [] }), { nil: null }),
    (amr, acr) => {
      const claims: ClaimsRequest | null = acr === null ? null : { id_token: { acr } };
      const level = acrOfAmr(amr);
      const reported = acrForIdToken(amr, claims);
      assert.ok(acrRank(reported) >= 0 && acrRank(reported) <= acrRank(level), `${reported} above ${level}`);
      const wanted = essentialAcrValues(claims);
      if (wanted === null) assert.equal(reported, level);
      else if (acrMeets(level, wanted)) assert.ok(wanted.includes(reported), `${reported} not among ${JSON.stringify(wanted)}`);
      else assert.equal(reported, level, 'not met: the truth, and the endpoint refuses before any token');
    },
  ), { numRuns: 2000 });
});
