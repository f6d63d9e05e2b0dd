// The one registry of error codes. Services throw AppError with a code from here; each face renders it in
// its own dialect (native: {"error": {"code", "message", "details"}}). Codes are stable API: programs
// branch on them, so rename none. The HTTP status lives with the code so every face agrees on it.

export const ERROR_STATUS = {
  // 400
  validation_failed: 400,
  invalid_json: 400,
  invalid_cursor: 400,
  invalid_request: 400,
  invalid_idempotency_key: 400,
  invalid_token: 400,
  // A password that breaks the password policy; details name each unmet rule (src/core/auth/password-policy.ts).
  password_policy: 400,
  // POST /api/me/password: the current password given is not the user's.
  invalid_current_password: 400,
  // A TOTP or recovery code that is wrong, used already, or outside its window (src/core/auth/mfa.ts).
  invalid_mfa_code: 400,
  // A profile key sent `Atlas-Account`: only a platform key acts on behalf of a connected account (docs/platform.md).
  platform_key_required: 400,
  // 401
  missing_credentials: 401,
  invalid_api_key: 401,
  api_key_revoked: 401,
  api_key_expired: 401,
  environment_mismatch: 401,
  invalid_credentials: 401,
  // OAuth access tokens (src/core/oauth/tokens.ts): not one of Signet's, past its expiry, or revoked.
  invalid_access_token: 401,
  access_token_expired: 401,
  access_token_revoked: 401,
  // 402: a send with no credit left in the paying pool (docs/envelopes.md, "Credits").
  insufficient_credits: 402,
  // 403
  permission_denied: 403,
  csrf_failed: 403,
  // A session of a user who must enrol two-step verification (mfa_required) before using the API.
  mfa_enrollment_required: 403,
  password_expired: 403,
  // Platform routes or a platform key in an organization whose platform mode is off (docs/platform.md).
  platform_not_enabled: 403,
  // A write that costs or sends, by a connected account its platform suspended (src/core/platform/billing.ts).
  connected_account_suspended: 403,
  // A signing link (/sign/{envelope_id}?t=…, src/core/signing/tokens.ts) that Signet did not make for this
  // envelope: altered, cut short, or another envelope's.
  signing_link_invalid: 403,
  // 404
  not_found: 404,
  route_not_found: 404,
  // 409
  email_taken: 409,
  name_taken: 409,
  seat_limit_reached: 409,
  profile_in_use: 409,
  already_member: 409,
  conflict: 409,
  idempotency_in_progress: 409,
  export_not_ready: 409,
  // An envelope action its status does not allow (sending one already sent, voiding a completed one).
  invalid_envelope_state: 409,
  domain_taken: 409,
  // Two-step verification is on already (enrolment), or is not (confirm, disable, new recovery codes).
  mfa_already_enabled: 409,
  mfa_not_enabled: 409,
  // a change DocuSign's built-in groups (Administrators, Everyone) refuse (src/core/groups/service.ts)
  builtin_group: 409,
  // Signing (src/core/signing/service.ts): the envelope no longer takes signatures (completed, declined,
  // voided, expired); the party already signed or declined; another party signs first (parties sign in order).
  envelope_not_signable: 409,
  already_signed: 409,
  not_your_turn: 409,
  // 410: an export whose result has expired (docs/exports.md)
  export_expired: 410,
  // 410: a signing link past its expiry (the envelope's, or 30 days after it was sent)
  signing_link_expired: 410,
  // 413, 415, 422
  body_too_large: 413,
  // An envelope's PDF over SIGNET_ENVELOPE_MAX_BYTES.
  document_too_large: 413,
  unsupported_media_type: 415,
  // Text Signet cannot store or decode: a NUL character (U+0000) or bytes that are not UTF-8.
  invalid_text: 422,
  unknown_setting: 422,
  invalid_setting: 422,
  user_not_in_account: 422,
  invalid_reference: 422,
  invalid_logo: 422,
  // An envelope's document that is not a PDF pdf-lib can read (damaged, encrypted, another format).
  invalid_document: 422,
  last_owner: 422,
  // A domain claim whose DNS TXT record was not found (src/core/organizations/domains.ts).
  domain_not_verified: 422,
  idempotency_key_reused: 422,
  // An integration's RSA key that is not one PEM RSA public key of 2048-8192 bits (src/core/integrations/rsa.ts).
  invalid_public_key: 422,
  // Signing without ticking the consent box, or without typing a name (src/core/signing/service.ts).
  consent_required: 422,
  // 429, 500, 501, 503
  rate_limited: 429,
  too_many_attempts: 429,
  internal_error: 500,
  // The DNS servers Signet asks (SIGNET_DNS_SERVERS) failed or timed out: try again later.
  dns_lookup_failed: 502,
  // An operation of a compatibility face (DocuSign's APIs) that Signet deliberately does not implement.
  not_supported: 501,
  not_ready: 503,
  // PostgreSQL aborted the change to break a deadlock or a serialization conflict, again after Signet's own
  // retries (src/core/context.ts): nothing was written; the same request can be sent again.
  busy: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export interface ErrorDetail {
  field?: string;
  message: string;
  [key: string]: unknown;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: ErrorDetail[];
  /**
   * The kind of object a not_found or name_taken is about ("user", "group", "brand logo"), for faces whose
   * dialect has a code per kind (eSignature's INVALID_USERID, GROUP_NAME_ALREADY_EXISTS): they read this,
   * never the message, which is for people and may be reworded.
   */
  readonly resource: string | undefined;

  constructor(code: ErrorCode, message: string, details: ErrorDetail[] = [], resource?: string) {
    super(message);
    this.name = 'AppError';
    this.code = code;
    this.status = ERROR_STATUS[code];
    this.details = details;
    this.resource = resource;
  }
}

/**
 * A missing row and a row of another tenant answer the same: tenancy must not be observable. `what` starts
 * the message; `resource` is the kind of object when `what` says more ("primary logo of brand").
 */
export function notFound(what: string, id?: string | number, resource: string = what): AppError {
  const message = id === undefined ? `${what} not found` : `${what} ${id} not found`;
  return new AppError('not_found', message, [], resource);
}

/** Another object of the account already has this name (names are unique per account, case-insensitively). */
export function nameTaken(resource: string, name: string): AppError {
  return new AppError(
    'name_taken',
    `a ${resource} named "${name}" already exists in this account`,
    [{ field: 'name', message: 'already in use' }],
    resource,
  );
}

export function invalidField(
  field: string,
  message: string,
  code: ErrorCode = 'validation_failed',
): AppError {
  return new AppError(code, `${field}: ${message}`, [{ field, message }]);
}

/**
 * Maps PostgreSQL errors that carry a domain meaning (unique and foreign-key violations, our seat trigger) to
 * AppErrors. Anything else is rethrown: it is a bug and becomes a 500.
 */
/** PostgreSQL aborted the transaction for a deadlock (40P01) or a serialization failure (40001). */
export function isRetryableConflict(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '40P01' || code === '40001';
}

export function fromDatabaseError(err: unknown, hints: Record<string, AppError> = {}): never {
  const e = err as { code?: string; constraint_name?: string; constraint?: string; message?: string };
  const constraint = e.constraint_name ?? e.constraint ?? '';
  if (constraint && hints[constraint]) throw hints[constraint];
  if (isRetryableConflict(err)) throw busy();
  if (e.code === 'SN001') throw new AppError('seat_limit_reached', e.message ?? 'seat limit reached');
  if (e.code === '23505')
    throw new AppError('conflict', `a record with the same unique value exists (${constraint})`);
  if (e.code === '23503')
    throw new AppError('invalid_reference', `a referenced record does not exist (${constraint})`);
  throw err;
}

/** The answer to a transaction that could not commit because of concurrent changes (see `busy` above). */
export function busy(): AppError {
  return new AppError(
    'busy',
    'concurrent changes to the same records kept this change from committing; nothing was written, send the request again',
  );
}
