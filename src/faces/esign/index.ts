// The eSignature REST API's account-administration subset under /restapi/v2.1/accounts/{accountId}
// (docs/compatibility.md): camelCase JSON, booleans in settings as strings, errors as
// {"errorCode", "message"} (eSignature's ErrorDetails). Every operation is under DocuSign's `signature`
// scope; each route narrows it to the Signet permission it needs.
import type { FastifyInstance } from 'fastify';
import { type ErrorRenderer, installDocuSignFace } from '../docusign/face.ts';
import { accountRoutes } from './accounts.ts';
import { brandRoutes } from './brands.ts';
import { envelopeRoutes } from './envelopes.ts';
import { esignErrorCode, esignStatus } from './errors.ts';
import { groupRoutes } from './groups.ts';
import { permissionProfileRoutes } from './permission-profiles.ts';
import { settingRoutes } from './settings.ts';
import { userRoutes } from './users.ts';

export { esignErrorCode } from './errors.ts';

/** The face's error dialect: eSignature's ErrorDetails, {"errorCode", "message"}. */
export const renderEsignError: ErrorRenderer = (err, _request, reply) =>
  reply.code(esignStatus(err)).send({ errorCode: esignErrorCode(err), message: err.message });

export async function esignFace(fastify: FastifyInstance): Promise<void> {
  installDocuSignFace(fastify, renderEsignError);
  await fastify.register(accountRoutes);
  await fastify.register(userRoutes);
  await fastify.register(groupRoutes);
  await fastify.register(permissionProfileRoutes);
  await fastify.register(brandRoutes);
  await fastify.register(settingRoutes);
  await fastify.register(envelopeRoutes);
}
