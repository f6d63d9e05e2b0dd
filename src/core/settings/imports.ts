// Account-settings imports: a CSV with an AccountID column and one column per setting (the header an
// account-settings export writes: `key`, or `key.property` for an object setting) applied to each account
// through SettingsService, so the catalogue's types, ranges and audit events are the ones PUT
// /api/accounts/{id}/settings has. Small by nature (a row per account), an import runs synchronously in ONE
// transaction that also records it (table settings_imports, 0010_management_bulk.sql): it is either recorded
// with every setting it applied, or did nothing.
//
// Per account, the row's settings are one patch: a value the catalogue refuses leaves that account unchanged
// and is reported in `issues`; columns that name no setting are skipped and listed per account. A blank cell
// changes nothing. Problems with the file as a whole (not CSV, no AccountID column) record a failed import.
import { parse } from 'csv-parse/sync';
import { sql } from 'kysely';
import type { Db } from '../../db/connection.ts';
import { type Ctx, mutate } from '../context.ts';
import { restoreFormula } from '../csv-safe.ts';
import { AppError, notFound } from '../errors.ts';
import { isUuid, newId } from '../ids.ts';
import { SettingsService } from './service.ts';
import { type FlatSetting, flatSetting, setFlatValue, settingFromText } from './text.ts';

/** The largest settings file accepted (one row per account: thousands of accounts fit easily). */
export const SETTINGS_IMPORT_MAX_BYTES = 5 * 1024 * 1024;
/** The most account rows one import may carry. */
export const SETTINGS_IMPORT_MAX_ROWS = 2000;

export interface SettingsIssue {
  account_id: string;
  account_name?: string;
  setting_key?: string;
  error_key: string;
  error: string;
}

export interface SettingsImportRecord {
  id: string;
  organization_id: string;
  status: 'completed' | 'failed';
  requestor: { kind: string; id: string; label: string };
  file_name: string | null;
  size_bytes: number;
  processed_accounts: number;
  unprocessed_accounts: number;
  skipped_settings: Record<string, string[]>;
  issues: SettingsIssue[];
  error: { code: string; message: string } | null;
  created_at: Date;
  completed_at: Date;
}

type Tables = {
  settings_imports: Omit<SettingsImportRecord, 'created_at' | 'completed_at'> & {
    created_at?: Date;
    completed_at?: Date;
  };
};
const tables = (db: Db) => db.withTables<Tables>();

class FileProblem extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

type Column =
  | { kind: 'account' }
  | { kind: 'ignored' }
  | { kind: 'setting'; setting: FlatSetting; header: string }
  | { kind: 'unknown'; header: string };

const norm = (h: string) => h.trim().toLowerCase();

function columnOf(header: string): Column {
  const flat = norm(header).replace(/[\s_-]/g, '');
  if (flat === 'accountid' || flat === 'accountguid') return { kind: 'account' };
  if (flat === 'accountname') return { kind: 'ignored' };
  const setting = flatSetting(norm(header));
  return setting ? { kind: 'setting', setting, header } : { kind: 'unknown', header };
}

/**
 * A cell as the value its setting wants, read by the settings text codec. Exports prefix a cell a spreadsheet
 * would take for a formula with a quote (csv-safe.ts): that quote is dropped first.
 */
function cellValue(setting: FlatSetting, cell: string): { value: unknown } | { error: string } {
  return settingFromText(setting, restoreFormula(cell));
}

export class SettingsImportsService {
  constructor(private readonly db: Db) {}

  /** Applies a settings CSV and records the import, all in one audited transaction. */
  async create(ctx: Ctx, input: { csv: Buffer; fileName: string | null }): Promise<SettingsImportRecord> {
    const { principal } = ctx;
    return mutate(this.db, ctx, async (trx, audit) => {
      const id = newId();
      const record: Tables['settings_imports'] = {
        id,
        organization_id: principal.organizationId,
        status: 'completed',
        requestor: { kind: principal.kind, id: principal.id, label: principal.label },
        file_name: input.fileName?.slice(0, 255) ?? null,
        size_bytes: input.csv.length,
        processed_accounts: 0,
        unprocessed_accounts: 0,
        skipped_settings: {},
        issues: [],
        error: null,
      };
      try {
        await this.apply(ctx, trx, input.csv, record);
      } catch (err) {
        if (!(err instanceof FileProblem)) throw err;
        record.status = 'failed';
        record.error = { code: err.code, message: err.message };
      }
      const row = await tables(trx)
        .insertInto('settings_imports')
        .values({
          ...record,
          // postgres.js serialises an object for a jsonb parameter but would send an array as a PostgreSQL
          // array: the list goes as JSON text, cast.
          issues: sql<SettingsIssue[]>`${JSON.stringify(record.issues)}::text::jsonb`,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      audit.record({
        action: 'settings_import.created',
        targetType: 'settings_import',
        targetId: id,
        after: {
          status: record.status,
          file_name: record.file_name,
          processed_accounts: record.processed_accounts,
          unprocessed_accounts: record.unprocessed_accounts,
          error: record.error,
        },
      });
      return row as SettingsImportRecord;
    });
  }

  private async apply(ctx: Ctx, trx: Db, csv: Buffer, record: Tables['settings_imports']): Promise<void> {
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(csv);
    } catch {
      throw new FileProblem('invalid_encoding', 'the file is not UTF-8 text; save it as "CSV UTF-8"');
    }
    let rows: string[][];
    try {
      rows = parse(text, { bom: true, skip_empty_lines: true, relax_column_count: false }) as string[][];
    } catch (err) {
      throw new FileProblem(
        'invalid_csv_data_or_syntax',
        `the file is not valid CSV: ${(err as Error).message}`,
      );
    }
    const [header, ...data] = rows;
    if (!header || header.every((h) => h.trim() === '')) {
      throw new FileProblem('column_headers_missing', 'the file has no header row');
    }
    const columns = header.map(columnOf);
    const accountCol = columns.findIndex((c) => c.kind === 'account');
    if (accountCol < 0) throw new FileProblem('column_headers_missing', 'an AccountID column is required');
    if (columns.filter((c) => c.kind === 'account').length > 1) {
      throw new FileProblem('invalid_column_header', 'the AccountID column appears more than once');
    }
    if (data.length > SETTINGS_IMPORT_MAX_ROWS) {
      throw new FileProblem(
        'maximum_accounts_exceeded',
        `at most ${SETTINGS_IMPORT_MAX_ROWS} account rows per import; this file has ${data.length}`,
      );
    }
    const nameCol = header.findIndex((h) => columnOf(h).kind === 'ignored');
    // The settings service joins this transaction (mutate() nests by joining), audit events included.
    const settings = new SettingsService(trx);
    for (const fields of data) {
      const given = (fields[accountCol] ?? '').trim();
      const accountName = nameCol >= 0 ? fields[nameCol]?.trim() || undefined : undefined;
      const fail = (issue: Omit<SettingsIssue, 'account_id' | 'account_name'>) => {
        record.issues.push({
          account_id: given,
          ...(accountName ? { account_name: accountName } : {}),
          ...issue,
        });
      };
      if (!isUuid(given)) {
        fail({ error_key: 'invalid_account_id', error: `"${given}" is not an account GUID` });
        record.unprocessed_accounts += 1;
        continue;
      }
      const accountId = given.toLowerCase();
      const patch: Record<string, unknown> = {};
      const skipped: string[] = [];
      let bad = false;
      columns.forEach((col, i) => {
        const cell = fields[i] ?? '';
        if (cell.trim() === '') return;
        if (col.kind === 'unknown') skipped.push(col.header);
        if (col.kind !== 'setting') return;
        const parsed = cellValue(col.setting, cell);
        if ('error' in parsed) {
          fail({ setting_key: col.header, error_key: 'invalid_setting_value', error: parsed.error });
          bad = true;
          return;
        }
        setFlatValue(patch, col.setting, parsed.value);
      });
      if (skipped.length > 0) record.skipped_settings[accountId] = skipped;
      if (bad) {
        record.unprocessed_accounts += 1;
        continue;
      }
      try {
        // The account must be one of this organization's (another's reads as missing), and the caller must
        // be allowed in it; the catalogue checks every value. Each of these fails before anything is written.
        await settings.update(ctx, accountId, patch);
        record.processed_accounts += 1;
      } catch (err) {
        if (!(err instanceof AppError)) throw err;
        const key =
          err.code === 'not_found'
            ? 'invalid_account_id'
            : err.code === 'permission_denied'
              ? 'account_admin_access_denied'
              : 'invalid_setting_value';
        const field = err.details[0]?.field;
        fail({
          ...(field && key === 'invalid_setting_value' ? { setting_key: field } : {}),
          error_key: key,
          error: err.code === 'not_found' ? `no account ${accountId} in this organization` : err.message,
        });
        record.unprocessed_accounts += 1;
      }
    }
  }

  async get(ctx: Ctx, id: string): Promise<SettingsImportRecord> {
    return this.load(ctx, id);
  }

  /** The organization's settings imports, newest first (a member's key: the ones it made). */
  async list(ctx: Ctx, limit = 1000): Promise<SettingsImportRecord[]> {
    let query = tables(this.db)
      .selectFrom('settings_imports')
      .selectAll()
      .where('organization_id', '=', ctx.principal.organizationId)
      .orderBy('id', 'desc')
      .limit(limit);
    if (ctx.principal.role === 'member') {
      query = query.where((eb) => eb(eb.ref('requestor', '->>').key('id'), '=', ctx.principal.id));
    }
    return (await query.execute()) as SettingsImportRecord[];
  }

  /** Deletes the record of an import; the settings it applied stay applied. Audited. */
  async delete(ctx: Ctx, id: string): Promise<void> {
    const before = await this.load(ctx, id);
    await mutate(this.db, ctx, async (trx, audit) => {
      await tables(trx).deleteFrom('settings_imports').where('id', '=', id).execute();
      audit.record({
        action: 'settings_import.deleted',
        targetType: 'settings_import',
        targetId: id,
        before: {
          status: before.status,
          processed_accounts: before.processed_accounts,
          unprocessed_accounts: before.unprocessed_accounts,
        },
      });
    });
  }

  private async load(ctx: Ctx, id: string): Promise<SettingsImportRecord> {
    if (!isUuid(id)) throw notFound('settings import', id);
    const row = (await tables(this.db)
      .selectFrom('settings_imports')
      .selectAll()
      .where('organization_id', '=', ctx.principal.organizationId)
      .where('id', '=', id.toLowerCase())
      .executeTakeFirst()) as SettingsImportRecord | undefined;
    if (!row) throw notFound('settings import', id);
    if (ctx.principal.role === 'member' && row.requestor.id !== ctx.principal.id) {
      throw notFound('settings import', id);
    }
    return row;
  }
}
