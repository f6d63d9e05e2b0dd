// OAuth errors with a description a developer can act on. oidc-provider's own invalid_grant always says
// "grant request is invalid" and keeps the reason in `error_detail` (which it does not send); Signet's grants
// and checks say why, as every Signet error does (src/core/errors.ts). Nothing here reveals another client's
// data: the reasons are about the request the client itself sent.
import { errors } from './oidc.ts';

/** invalid_grant (RFC 6749 section 5.2) with its reason as the error_description. */
export function invalidGrant(description: string): Error {
  return new errors.CustomOIDCProviderError('invalid_grant', description);
}
