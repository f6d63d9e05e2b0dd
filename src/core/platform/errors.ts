// Refusals shared by platform mode's modules and the API keys that depend on it (docs/platform.md).
import { AppError } from '../errors.ts';

export function platformNotEnabled(organizationId: string): AppError {
  return new AppError(
    'platform_not_enabled',
    `platform mode is off for organization ${organizationId}; an owner turns it on with POST /api/platform {"enabled": true}`,
    [{ message: 'platform mode is off', organization_id: organizationId }],
  );
}
