// The eSignature REST API's account-administration subset under /restapi/v2.1/accounts/{accountId}
// (docs/compatibility.md): camelCase JSON, booleans in settings as strings, errors as
// {"errorCode", "message"} (eSignature's ErrorDetails). Every operation is under DocuSign's `signature`
// scope; each route narrows it to the Signet permission it needs.
import type { FastifyInstance } from 'fastify';
import type { AppError } from '../../core/errors.ts';
import { installDocuSignFace } from '../docusign/face.ts';

/** eSignature's error codes for Signet's; a code without an entry is upper-cased. */
const ERROR_CODES: Partial<Record<AppError['code'], string>> = {
  missing_credentials: 'AUTHORIZATION_INVALID_TOKEN',
  invalid_api_key: 'AUTHORIZATION_INVALID_TOKEN',
  api_key_revoked: 'AUTHORIZATION_INVALID_TOKEN',
  api_key_expired: 'AUTHORIZATION_INVALID_TOKEN',
  permission_denied: 'USER_LACKS_PERMISSIONS',
  validation_failed: 'INVALID_REQUEST_PARAMETER',
  invalid_json: 'INVALID_REQUEST_BODY',
  route_not_found: 'RESOURCE_NOT_FOUND',
  not_supported: 'NOT_SUPPORTED',
};

export function esignErrorCode(code: AppError['code']): string {
  return ERROR_CODES[code] ?? code.toUpperCase();
}

export async function esignFace(fastify: FastifyInstance): Promise<void> {
  installDocuSignFace(fastify, (err, _request, reply) =>
    reply.code(err.status).send({ errorCode: esignErrorCode(err.code), message: err.message }),
  );
}
