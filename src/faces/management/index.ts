// The DocuSign Admin API face under /management (docs/compatibility.md). snake_case JSON as the spec has it
// (shared/specs/admin.rest.swagger-v2.1.json), errors as {"error", "error_description"} (the spec's only
// error model, ErrorDetails), Bearer tokens, one declared scope per operation. Routes translate; the rules
// live in the core services /api uses.
import type { FastifyInstance } from 'fastify';
import { type ErrorRenderer, installDocuSignFace } from '../docusign/face.ts';
import { accountCreationRoutes } from './account-creation.ts';
import { accountRoutes } from './accounts.ts';
import { connectRoutes } from './connect.ts';
import { managementExportRoutes } from './exports.ts';
import { managementImportRoutes } from './imports.ts';
import { managementMultiProductRoutes } from './multi-product.ts';
import { organizationSettingRoutes } from './organization-settings.ts';
import { organizationRoutes } from './organizations.ts';
import { redactionRoutes } from './redaction.ts';
import { managementSettingsImportRoutes } from './settings-imports.ts';
import { userRoutes } from './users.ts';

/** The face's error dialect: the spec's ErrorDetails, {"error", "error_description"}. */
export const renderManagementError: ErrorRenderer = (err, _request, reply) =>
  reply.code(err.status).send({ error: err.code, error_description: err.message });

export async function managementFace(fastify: FastifyInstance): Promise<void> {
  installDocuSignFace(fastify, renderManagementError);
  await fastify.register(organizationRoutes);
  // v2.1 multi-product user management (DS groups, product permission profiles, addOrUpdateUser, DS profiles),
  // and account creation.
  await fastify.register(managementMultiProductRoutes);
  await fastify.register(accountCreationRoutes);
  await fastify.register(userRoutes);
  await fastify.register(accountRoutes);
  await fastify.register(organizationSettingRoutes);
  await fastify.register(redactionRoutes);
  // OrgConnectApi: organization-level Connect configurations, HMAC secrets, OAuth configuration.
  await fastify.register(connectRoutes);
  // Bulk operations: user imports, exports, account-settings imports (each installs its CSV body parsers).
  await fastify.register(managementImportRoutes);
  await fastify.register(managementExportRoutes);
  await fastify.register(managementSettingsImportRoutes);
}

/**
 * The spec's basePath is `/Management` while the SDK and DocuSign's examples send `/management`: the prefix
 * is matched case-insensitively by rewriting it before routing (the rest of the path keeps its case).
 */
export function canonicalManagementPrefix(url: string): string {
  return /^\/management(?=\/|\?|$)/i.test(url) && !url.startsWith('/management')
    ? `/management${url.slice('/management'.length)}`
    : url;
}
