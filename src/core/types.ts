// The database row and value types that are part of core's interface. Faces name these and never import
// src/db (biome.json enforces it): the schema is core's business, so a face depends on core alone.
export type { Db } from '../db/connection.ts';
export type {
  Account,
  EnvelopeStatus,
  ExportKind,
  GroupType,
  ImportOperation,
  MembershipStatus,
  OrganizationDomain,
  UserStatus,
} from '../db/schema.ts';
