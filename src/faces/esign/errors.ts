// Signet's errors in eSignature's dialect: ErrorDetails {errorCode, message}. The code names the resource the
// way eSignature does (INVALID_USERID, INVALID_GROUP_ID, …). The status is eSignature's: its reference documents
// 400 ("Error encountered", with ErrorDetails) as the one error response of every operation, and it answers a
// missing object 400 with its code (INVALID_USERID for a user id it does not know), so Signet's 404 for an
// object, 409 and 422 are 400 here. What stays Signet's: 401 (authentication, as eSignature), 403 (a missing
// right; eSignature has been seen answering USER_LACKS_PERMISSIONS with 401, which would tell a client to
// sign in again, which cannot help), 404 for a path no route serves, 413, 415, 429, 501 and 5xx.
import type { AppError, ErrorCode } from '../../core/errors.ts';
import { toAppError } from '../http-errors.ts';

/** eSignature's error codes for Signet's; a code without an entry (or a rule below) is upper-cased. */
const ERROR_CODES: Partial<Record<ErrorCode, string>> = {
  missing_credentials: 'AUTHORIZATION_INVALID_TOKEN',
  invalid_api_key: 'AUTHORIZATION_INVALID_TOKEN',
  api_key_revoked: 'AUTHORIZATION_INVALID_TOKEN',
  api_key_expired: 'AUTHORIZATION_INVALID_TOKEN',
  environment_mismatch: 'AUTHORIZATION_INVALID_TOKEN',
  permission_denied: 'USER_LACKS_PERMISSIONS',
  validation_failed: 'INVALID_REQUEST_PARAMETER',
  invalid_json: 'INVALID_REQUEST_BODY',
  route_not_found: 'RESOURCE_NOT_FOUND',
  not_supported: 'NOT_SUPPORTED',
  email_taken: 'USER_ALREADY_EXISTS_IN_ACCOUNT',
  already_member: 'USER_ALREADY_EXISTS_IN_ACCOUNT',
  user_not_in_account: 'INVALID_USERID',
  profile_in_use: 'PERMISSION_PROFILE_IN_USE',
  unknown_setting: 'INVALID_ACCOUNT_SETTING',
  invalid_setting: 'INVALID_ACCOUNT_SETTING_VALUE',
  invalid_logo: 'INVALID_IMAGE',
  unsupported_media_type: 'INVALID_CONTENT_TYPE',
  body_too_large: 'REQUEST_ENTITY_TOO_LARGE',
  seat_limit_reached: 'ACCOUNT_LACKS_SEATS',
};

/** eSignature has a not-found code per kind of object (AppError.resource). Another organization's: the same. */
const NOT_FOUND_CODES: Record<string, string> = {
  account: 'ACCOUNT_NOT_FOUND',
  user: 'INVALID_USERID',
  group: 'INVALID_GROUP_ID',
  'permission profile': 'INVALID_PERMISSION_PROFILE_ID',
  brand: 'INVALID_BRAND_ID',
  'brand logo': 'BRAND_LOGO_NOT_FOUND',
  envelope: 'ENVELOPE_DOES_NOT_EXIST',
};

/** And a name-taken code per kind. */
const NAME_TAKEN_CODES: Record<string, string> = {
  group: 'GROUP_NAME_ALREADY_EXISTS',
  brand: 'BRAND_NAME_ALREADY_EXISTS',
  'permission profile': 'PERMISSION_PROFILE_NAME_ALREADY_EXISTS',
};

/** A reference to a missing object in a body names its field. */
const REFERENCE_CODES: Record<string, string> = {
  permission_profile_id: 'INVALID_PERMISSION_PROFILE_ID',
  move_users_to: 'INVALID_PERMISSION_PROFILE_ID',
  group_ids: 'INVALID_GROUP_ID',
  account_id: 'ACCOUNT_NOT_FOUND',
};

export function esignErrorCode(err: AppError): string {
  const byKind = (codes: Record<string, string>) => (err.resource ? codes[err.resource] : undefined);
  if (err.code === 'not_found') return byKind(NOT_FOUND_CODES) ?? 'RESOURCE_NOT_FOUND';
  if (err.code === 'name_taken') return byKind(NAME_TAKEN_CODES) ?? 'NAME_ALREADY_EXISTS';
  // Deleting a built-in group is refused with the group code eSignature clients branch on; the other changes
  // a built-in group refuses (rename, removing members of Everyone) are request errors.
  if (err.code === 'builtin_group') {
    return err.details[0]?.operation === 'delete' ? 'GROUP_CANNOT_BE_DELETED' : 'INVALID_REQUEST_PARAMETER';
  }
  if (err.code === 'invalid_reference') {
    const field = err.details[0]?.field?.split('.').pop();
    return (field && REFERENCE_CODES[field]) ?? 'INVALID_REQUEST_PARAMETER';
  }
  return ERROR_CODES[err.code] ?? err.code.toUpperCase();
}

export function esignStatus(err: AppError): number {
  if (err.code === 'not_found') return 400;
  return err.status === 409 || err.status === 422 ? 400 : err.status;
}

/** eSignature's ErrorDetails for anything thrown: the body of an error response, or one item's errorDetails. */
export function errorDetails(err: unknown): { errorCode: string; message: string } {
  const appErr = toAppError(err);
  return { errorCode: esignErrorCode(appErr), message: appErr.message };
}
