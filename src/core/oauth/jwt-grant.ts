// The JWT bearer grant (RFC 7523 section 2.1, urn:ietf:params:oauth:grant-type:jwt-bearer) as DocuSign runs it:
// an integration signs, with one of its registered RSA keys, a JWT saying "let me act as user `sub`" and gets
// a one-hour access token and no refresh token, provided the user (or an organization admin for every user)
// consented to the scopes first; without that consent the answer is {"error":"consent_required"}.
//
// oidc-provider ships no such grant; this is registered with provider.registerGrantType() and mints its token
// through oidc-provider's own AccessToken model, so the token is stored, introspected and revoked like every
// other. The checks follow RFC 7523 section 3 and docs/security.md:
//   - RS256 only (what DocuSign's SDKs sign with), never `none`, never a key the JWT carries or points to
//     (jwk, jku, x5u, x5c): only the integration's registered keys, the one its `kid` names if it names one;
//   - iss = the integration key; aud = exactly this server's audience (SIGNET_OAUTH_AUDIENCE, by default the
//     host[:port] of SIGNET_PUBLIC_URL, which is what the SDKs send), one string, not a list;
//   - exp and iat present; not expired and not issued in the future beyond a 30 s skew; at most an hour
//     between iat and exp, and iat at most an hour old;
//   - a `jti`, when present, is accepted once (DocuSign's SDKs send none; then the assertion can be replayed
//     until it expires, which is DocuSign's behaviour too, and why assertions should be short-lived);
//   - the scope claim must include `impersonation`, name scopes Signet knows, and be covered by consent.
import { createPublicKey, type KeyObject } from 'node:crypto';
import {
  compactVerify,
  decodeJwt,
  decodeProtectedHeader,
  type JWTPayload,
  type ProtectedHeaderParameters,
} from 'jose';
import type { KoaContextWithOIDC, Provider } from 'oidc-provider';
import type { Db } from '../../db/connection.ts';
import type { IntegrationLookup, RsaPublicKey } from '../integrations/lookup.ts';
import { firstUse } from './adapter.ts';
import { JWT_BEARER } from './clients.ts';
import { invalidGrant } from './errors.ts';
import { errors } from './oidc.ts';
import { isOAuthScope, splitScope } from './scopes.ts';

export const SKEW_SECONDS = 30;
export const JWT_TOKEN_SECONDS = 3600;
const MAX_ASSERTION_SECONDS = 3600;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface JwtGrantDeps {
  db: Db;
  lookup: Pick<IntegrationLookup, 'jwtGrantFacts'>;
  audience: string;
}

const invalid = invalidGrant;

/** Public keys parsed once per PEM (the parse costs more than the signature check). */
const parsedKeys = new Map<string, KeyObject>();
function keyOf(key: RsaPublicKey): KeyObject {
  let parsed = parsedKeys.get(key.pem);
  if (!parsed) {
    parsed = createPublicKey(key.pem);
    if (parsedKeys.size >= 10_000) parsedKeys.delete(parsedKeys.keys().next().value as string);
    parsedKeys.set(key.pem, parsed);
  }
  return parsed;
}

function decode(assertion: string): { header: ProtectedHeaderParameters; claims: JWTPayload } {
  try {
    return { header: decodeProtectedHeader(assertion), claims: decodeJwt(assertion) };
  } catch {
    throw invalid('the assertion is not a signed JWT (header.payload.signature, base64url)');
  }
}

function checkTimes(claims: JWTPayload): void {
  const now = Math.floor(Date.now() / 1000);
  const { exp, iat, nbf } = claims;
  if (typeof exp !== 'number')
    throw invalid('the assertion must have an exp claim (seconds since the epoch)');
  if (typeof iat !== 'number')
    throw invalid('the assertion must have an iat claim (seconds since the epoch)');
  if (exp <= now - SKEW_SECONDS)
    throw invalid(`the assertion expired at ${new Date(exp * 1000).toISOString()}`);
  if (iat > now + SKEW_SECONDS) {
    throw invalid(
      `the assertion's iat (${new Date(iat * 1000).toISOString()}) is in the future: check the clock`,
    );
  }
  if (typeof nbf === 'number' && nbf > now + SKEW_SECONDS)
    throw invalid('the assertion is not valid yet (nbf)');
  if (exp - iat > MAX_ASSERTION_SECONDS) {
    throw invalid(`the assertion may live at most ${MAX_ASSERTION_SECONDS} s (exp - iat is ${exp - iat} s)`);
  }
  if (now - iat > MAX_ASSERTION_SECONDS + SKEW_SECONDS)
    throw invalid('the assertion was issued more than an hour ago');
}

async function verifySignature(assertion: string, header: ProtectedHeaderParameters, keys: RsaPublicKey[]) {
  const candidates = header.kid === undefined ? keys : keys.filter((k) => k.kid === header.kid);
  if (candidates.length === 0) {
    throw invalid(
      header.kid === undefined
        ? 'the integration has no RSA key: add one (POST /api/integrations/{id}/rsa_keys)'
        : `unknown key id (kid) "${String(header.kid).slice(0, 100)}": it is not one of the integration's RSA keys`,
    );
  }
  for (const key of candidates) {
    try {
      await compactVerify(assertion, keyOf(key), { algorithms: ['RS256'] });
      return;
    } catch {
      // the next key, if any
    }
  }
  throw invalid("the assertion's signature does not verify with the integration's RSA key");
}

/** The handler oidc-provider runs for grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer. */
export function jwtBearerGrant(deps: JwtGrantDeps) {
  return async function jwtBearerHandler(ctx: KoaContextWithOIDC): Promise<void> {
    const { client, params } = ctx.oidc;
    const provider = ctx.oidc.provider as Provider;
    const assertion = params?.assertion;
    if (typeof assertion !== 'string' || assertion === '') {
      throw new errors.InvalidRequest("missing required parameter 'assertion'");
    }
    const { header, claims } = decode(assertion);
    if (header.alg !== 'RS256') {
      throw invalid(`the assertion must be signed with RS256, not ${String(header.alg).slice(0, 20)}`);
    }
    for (const name of ['jwk', 'jku', 'x5u', 'x5c'] as const) {
      if (name in header) {
        throw invalid(
          `the assertion's header must not carry a key (${name}): it is checked against the integration's registered keys`,
        );
      }
    }
    if (claims.iss !== client!.clientId)
      throw invalid('iss must be the integration key (client_id) the assertion is for');
    if (typeof claims.aud !== 'string' || claims.aud !== deps.audience) {
      throw invalid(`aud must be "${deps.audience}" (this server's host, one string)`);
    }
    checkTimes(claims);
    const userId = claims.sub;
    if (typeof userId !== 'string' || !UUID.test(userId)) {
      throw invalid('sub must be the id (a UUID) of the user the integration acts for');
    }
    const integrationId = client!['signet_integration_id'] as string;
    const organizationId = client!['signet_organization_id'] as string;
    // Keys, consent and the user, read together as they are now (a revoked key or consent stops new tokens).
    const facts = await deps.lookup.jwtGrantFacts(
      { id: integrationId, organization_id: organizationId },
      userId,
    );
    await verifySignature(assertion, header, facts.keys);

    const scopes = splitScope(claims.scope);
    const unknown = scopes.filter((s) => !isOAuthScope(s));
    if (unknown.length > 0) throw new errors.InvalidScope('unknown scope', unknown.join(' '));
    if (!scopes.includes('impersonation')) {
      throw new errors.InvalidScope(
        "the assertion's scope claim must include impersonation",
        'impersonation',
      );
    }
    const { userStatus: status, consented } = facts;
    if (status !== 'active') {
      throw invalid(
        `user ${userId} is ${status === undefined ? 'not a user of the integration\u2019s organization' : 'deactivated'}`,
      );
    }
    const missing = scopes.filter((s) => !consented.includes(s));
    if (missing.length > 0) {
      throw new errors.ConsentRequired(
        `user ${userId} has not consented to ${missing.join(' ')} for this integration: ask the user to grant it at /oauth/auth (prompt=consent), or an admin for the whole organization`,
      );
    }
    if (typeof claims.jti === 'string') {
      const until = new Date(((claims.exp as number) + SKEW_SECONDS) * 1000);
      if (!(await firstUse(deps.db, `jwt-bearer:${client!.clientId}:${claims.jti}`, until))) {
        throw invalid('this assertion (its jti) was used already');
      }
    }
    // No grant behind it: the token is not refreshed, and consent is checked on every use (tokens.ts).
    const token = new provider.AccessToken({
      accountId: userId,
      client: client!,
      scope: scopes.join(' '),
      gty: JWT_BEARER,
      expiresIn: JWT_TOKEN_SECONDS,
    } as unknown as ConstructorParameters<typeof provider.AccessToken>[0]);
    ctx.oidc.entity('AccessToken', token);
    const value = await token.save();
    ctx.body = {
      access_token: value,
      token_type: 'Bearer',
      expires_in: token.expiration,
      scope: token.scope,
    };
  };
}
