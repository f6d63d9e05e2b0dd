// Bulk CSV imports: the upload (streamed into import_files, queued in the same transaction as its job), the
// reads (status, rows, results.csv), cancel, and processImport, which the job worker runs.
//
// Processing is two passes over the stored file. The validation pass parses everything (cheap: no database
// work) so a file-level problem fails the import before any row is applied. The apply pass works in batches
// (config.importBatchSize rows): a batch's user writes, its row results, its audit events and the import's
// checkpoint (last_row + counters) commit in one transaction, after checking under a row lock that the
// checkpoint is still where this worker read it. A worker killed mid-batch loses the batch's transaction, and
// whoever runs the import next resumes after the checkpoint: every row is applied exactly once.
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import v8 from 'node:v8';
import vm from 'node:vm';
import { sql } from 'kysely';
import type { Config } from '../../config.ts';
import type { Db } from '../../db/connection.ts';
import type { ImportOperation, ImportRow } from '../../db/schema.ts';
import { scopeGrants } from '../api-keys/scopes.ts';
import type { Activation } from '../auth/activation.ts';
import { Reach } from '../authz/reach.ts';
import { type Ctx, mutate } from '../context.ts';
import { csvStream } from '../csv-safe.ts';
import { AppError, invalidField, notFound } from '../errors.ts';
import { newId } from '../ids.ts';
import { DEFAULT_LIMIT, decodeCursor, decodeIntCursor, type Page, toPage } from '../pagination.ts';
import { type Principal, permissionsFor, requireAccountAccess } from '../principal.ts';
import type { EmailChanges } from '../users/email-changes.ts';
import { recordOutcomeEvents } from '../webhooks/events.ts';
import { appendAuditBulk, insertRowResults } from './bulk.ts';
import { CHUNK_BYTES, FileError, mapColumns, readCsv, storedFile } from './csv.ts';
import { Catalog, executeBatch, planBatch, type RowResult, World } from './rows.ts';
import { clearSpilled, loadDryState, saveDryState, saveSpilled } from './spill.ts';

export interface ImportView {
  id: string;
  status: string;
  operation: ImportOperation;
  dry_run: boolean;
  account_id: string | null;
  file_name: string | null;
  size_bytes: number;
  user_count: number;
  processed_user_count: number;
  added_user_count: number;
  updated_user_count: number;
  closed_user_count: number;
  no_action_required_user_count: number;
  error_count: number;
  warning_count: number;
  percent_completed: number;
  error: { code: string; message: string } | null;
  error_rollups: { error_type: string; count: number }[];
  invalid_column_headers: string[];
  requestor: { type: string; id: string; name: string };
  created_at: Date;
  updated_at: Date;
  started_at: Date | null;
  completed_at: Date | null;
}

export function importView(r: ImportRow): ImportView {
  const req = r.requestor as { kind: string; id: string; label: string };
  const done = r.status === 'completed';
  return {
    id: r.id,
    status: r.status === 'receiving' ? 'queued' : r.status,
    operation: r.operation,
    dry_run: r.dry_run,
    account_id: r.account_id,
    file_name: r.file_name,
    size_bytes: Number(r.size_bytes),
    user_count: r.user_count,
    processed_user_count: r.processed_user_count,
    added_user_count: r.added_user_count,
    updated_user_count: r.updated_user_count,
    closed_user_count: r.closed_user_count,
    no_action_required_user_count: r.no_action_required_user_count,
    error_count: r.error_count,
    warning_count: r.warning_count,
    percent_completed: done
      ? 100
      : r.user_count > 0
        ? Math.floor((r.processed_user_count * 100) / r.user_count)
        : 0,
    error: r.error,
    error_rollups: Object.entries(r.error_rollups ?? {})
      .map(([error_type, count]) => ({ error_type, count: Number(count) }))
      .sort((a, b) => b.count - a.count || a.error_type.localeCompare(b.error_type)),
    invalid_column_headers: r.invalid_column_headers ?? [],
    requestor: { type: req.kind, id: req.id, name: req.label },
    created_at: r.created_at,
    updated_at: r.updated_at,
    started_at: r.started_at,
    completed_at: r.completed_at,
  };
}

export interface StagedUpload {
  id: string;
  size: number;
  tooLarge: boolean;
  sha256: string;
}

export interface CreateImportInput {
  accountId?: string;
  operation: ImportOperation;
  dryRun: boolean;
  upload: StagedUpload;
}

export interface RowQuery {
  status?: 'ok' | 'error' | 'all';
  limit?: number;
  cursor?: string;
}

/** Queues the job that processes import `id`, inside the caller's transaction (src/jobs/queue.ts). */
export type EnqueueImport = (trx: Db, id: string) => Promise<void>;

export class ImportsService {
  // The queue is injected (src/services.ts): core does not import src/jobs, which imports core.
  constructor(
    private readonly db: Db,
    private readonly config: Config,
    private readonly enqueue: EnqueueImport,
  ) {}

  /**
   * Stores an upload as it streams in (≈1 MB chunks per row), before the request is validated: the body must
   * be read before the Idempotency-Key's body fingerprint is taken. The import stays `receiving` (invisible)
   * until create() queues it; a request that ends otherwise discards it.
   */
  async stage(
    principal: Principal,
    meta: Ctx['meta'],
    body: AsyncIterable<Buffer | string>,
    fileName: string | null,
  ): Promise<StagedUpload> {
    const id = newId();
    await this.db
      .insertInto('imports')
      .values({
        id,
        organization_id: principal.organizationId,
        account_id: null,
        operation: 'add', // set by create()
        status: 'receiving',
        requestor: {
          kind: principal.kind,
          id: principal.id,
          label: principal.label,
          role: principal.role,
          account_id: principal.accountId,
          user_id: principal.userId,
          environment: principal.environment,
          // What the rows may assign and reach is judged by the requestor's rights (src/core/authz/reach.ts).
          scopes: principal.scopes ?? null,
          profile_permissions: principal.profilePermissions ?? null,
        },
        request_meta: { ...meta },
        file_name: fileName?.slice(0, 255) ?? null,
      })
      .execute();
    const max = this.config.importMaxBytes;
    const hash = createHash('sha256');
    const upload: StagedUpload = { id, size: 0, tooLarge: false, sha256: '' };
    let seq = 0;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const flush = async () => {
      if (pendingBytes === 0) return;
      const data = Buffer.concat(pending, pendingBytes);
      pending = [];
      pendingBytes = 0;
      await this.db.insertInto('import_files').values({ import_id: id, seq, data }).execute();
      seq += 1;
    };
    try {
      for await (const piece of body) {
        if (upload.tooLarge) continue; // drain what the client still sends, storing nothing
        const buf = typeof piece === 'string' ? Buffer.from(piece) : piece;
        upload.size += buf.length;
        if (upload.size > max) {
          upload.tooLarge = true;
          pending = [];
          pendingBytes = 0;
          await this.db.deleteFrom('import_files').where('import_id', '=', id).execute();
          continue;
        }
        hash.update(buf);
        pending.push(buf);
        pendingBytes += buf.length;
        if (pendingBytes >= CHUNK_BYTES) await flush();
      }
      await flush();
    } catch (err) {
      await this.discard(id); // the client went away mid-upload
      throw err;
    }
    upload.sha256 = hash.digest('hex');
    return upload;
  }

  /** Drops a staged upload that was never queued. */
  async discard(id: string): Promise<void> {
    await this.db.deleteFrom('imports').where('id', '=', id).where('status', '=', 'receiving').execute();
  }

  /** Queues a staged upload as an import, with its job, in one transaction (a too-large file fails here). */
  async create(ctx: Ctx, input: CreateImportInput): Promise<ImportView> {
    const { principal } = ctx;
    const { upload } = input;
    const accountId = input.accountId?.toLowerCase();
    if (accountId) {
      const account = await this.db
        .selectFrom('accounts')
        .select('id')
        .where('id', '=', accountId)
        .where('organization_id', '=', principal.organizationId)
        .executeTakeFirst();
      if (!account) {
        throw invalidField('account_id', `no account ${accountId} in this organization`, 'invalid_reference');
      }
      requireAccountAccess(principal, accountId);
    }
    const max = this.config.importMaxBytes;
    return mutate(this.db, ctx, async (trx, audit) => {
      const now = new Date();
      const common = {
        operation: input.operation,
        dry_run: input.dryRun,
        account_id: accountId ?? null,
        size_bytes: upload.size,
        updated_at: now,
      };
      const row = await trx
        .updateTable('imports')
        .set(
          upload.tooLarge
            ? {
                ...common,
                status: 'failed',
                error: {
                  code: 'file_too_large',
                  message: `the file is larger than the limit of ${max} bytes`,
                },
                completed_at: now,
              }
            : { ...common, status: 'queued', sha256: upload.sha256 },
        )
        .where('id', '=', upload.id)
        .where('status', '=', 'receiving')
        .returningAll()
        .executeTakeFirstOrThrow();
      if (!upload.tooLarge) await this.enqueue(trx, upload.id);
      audit.record({
        action: 'import.created',
        targetType: 'import',
        targetId: upload.id,
        accountId: accountId ?? null,
        after: {
          operation: row.operation,
          dry_run: row.dry_run,
          size_bytes: upload.size,
          file_name: row.file_name,
        },
      });
      return importView(row);
    });
  }

  async get(ctx: Ctx, id: string): Promise<ImportView> {
    return importView(await this.load(ctx, id));
  }

  async list(ctx: Ctx, q: { limit?: number; cursor?: string }): Promise<Page<ImportView>> {
    const limit = q.limit ?? DEFAULT_LIMIT;
    const after = decodeCursor(q.cursor);
    let query = this.db
      .selectFrom('imports')
      .selectAll()
      .where('organization_id', '=', ctx.principal.organizationId)
      .where('status', '!=', 'receiving')
      .orderBy('id', 'desc')
      .limit(limit + 1);
    if (after) query = query.where('id', '<', after);
    if (ctx.principal.role === 'member') query = query.where('account_id', '=', ctx.principal.accountId);
    const page = toPage(await query.execute(), limit, (r) => r.id);
    return { data: page.data.map(importView), next_cursor: page.next_cursor };
  }

  async rows(ctx: Ctx, id: string, q: RowQuery): Promise<Page<RowResult>> {
    await this.load(ctx, id);
    const limit = q.limit ?? DEFAULT_LIMIT;
    const after = decodeIntCursor(q.cursor);
    let query = this.db
      .selectFrom('import_rows')
      .select([
        'row_number',
        'status',
        'action',
        'result',
        'error_type',
        'message',
        'email',
        'account_id',
        'user_id',
        'membership_id',
      ])
      .where('import_id', '=', id)
      .orderBy('row_number')
      .limit(limit + 1);
    if (q.status === 'ok' || q.status === 'error') query = query.where('status', '=', q.status);
    if (after) query = query.where('row_number', '>', after);
    return toPage(await query.execute(), limit, (r) => String(r.row_number));
  }

  /** The original rows plus a ProcessingResults column, streamed. */
  async resultsCsv(ctx: Ctx, id: string): Promise<Readable> {
    const imp = await this.load(ctx, id);
    if (imp.status === 'failed' && imp.error) {
      throw new AppError('conflict', `import ${id} failed (${imp.error.code}); it has no row results`);
    }
    const db = this.db;
    async function* lines(): AsyncGenerator<string[]> {
      let results: Map<number, RowResult> = new Map();
      let loadedTo = 0;
      for await (const item of readCsv(storedFile(db, id), { check: false })) {
        if ('header' in item) {
          yield [...item.header, 'ProcessingResults'];
          continue;
        }
        if (item.row > loadedTo) {
          const page = await db
            .selectFrom('import_rows')
            .selectAll()
            .where('import_id', '=', id)
            .where('row_number', '>', loadedTo)
            .where('row_number', '<=', loadedTo + 1000)
            .execute();
          results = new Map(page.map((r) => [r.row_number, r as unknown as RowResult]));
          loadedTo += 1000;
        }
        const r = results.get(item.row);
        const text = !r
          ? ''
          : r.status === 'error'
            ? `${r.error_type}: ${r.message}`
            : r.message
              ? `${r.result}: ${r.message}`
              : r.result;
        yield [...item.fields, text];
      }
    }
    // The file's own cells are echoed: they get the same formula defence as every CSV Signet writes.
    return csvStream(lines(), { bom: true });
  }

  async cancel(ctx: Ctx, id: string): Promise<ImportView> {
    await this.load(ctx, id);
    return mutate(this.db, ctx, async (trx, audit) => {
      const before = await trx
        .selectFrom('imports')
        .selectAll()
        .where('id', '=', id)
        .forUpdate()
        .executeTakeFirstOrThrow();
      if (!['receiving', 'queued', 'in_process'].includes(before.status)) return importView(before);
      const after = await trx
        .updateTable('imports')
        .set({
          status: 'canceled',
          completed_at: new Date(),
          updated_at: new Date(),
          lease_owner: null,
          lease_until: null,
        })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirstOrThrow();
      await clearSpilled(trx, id); // a dry-run's simulated users
      audit.record({
        action: 'import.canceled',
        targetType: 'import',
        targetId: id,
        accountId: before.account_id,
        extra: { processed_user_count: before.processed_user_count },
      });
      return importView(after);
    });
  }

  /**
   * Deletes an import with its stored file and row results. A queued or running one stops (its worker finds
   * the row gone at its next batch); rows it already applied stay applied, as with cancel. Audited.
   */
  async delete(ctx: Ctx, id: string): Promise<void> {
    await this.load(ctx, id);
    await mutate(this.db, ctx, async (trx, audit) => {
      // The row lock waits for a batch in flight, so the import is deleted between two batches.
      const before = await trx
        .selectFrom('imports')
        .selectAll()
        .where('id', '=', id)
        .forUpdate()
        .executeTakeFirst();
      if (!before) throw notFound('import', id);
      await trx.deleteFrom('imports').where('id', '=', id).execute();
      audit.record({
        action: 'import.deleted',
        targetType: 'import',
        targetId: id,
        accountId: before.account_id,
        before: {
          operation: before.operation,
          status: before.status,
          dry_run: before.dry_run,
          processed_user_count: before.processed_user_count,
        },
      });
    });
  }

  private async load(ctx: Ctx, id: string): Promise<ImportRow> {
    const row = await this.db
      .selectFrom('imports')
      .selectAll()
      .where('organization_id', '=', ctx.principal.organizationId)
      .where('id', '=', id)
      .where('status', '!=', 'receiving')
      .executeTakeFirst();
    if (!row) throw notFound('import', id);
    if (ctx.principal.role === 'member' && row.account_id !== ctx.principal.accountId)
      throw notFound('import', id);
    return row;
  }
}

// --- processing (run by the job worker) ------------------------------------------------------------------

export type ProcessOutcome = 'done' | 'yielded';

export class LeaseHeld extends Error {
  constructor(id: string) {
    super(`import ${id} is being processed by another worker`);
  }
}

class CheckpointMoved extends Error {}
class Canceled extends Error {}

export interface ProcessOptions {
  workerId: string;
  batchSize: number;
  /** How long a lease lasts without renewal (renewed every batch). */
  leaseSeconds: number;
  /** Asked between batches: true to stop here and let a fresh job continue (time slice, shutdown). */
  shouldYield: () => boolean;
  log?: (msg: string) => void;
  /** How update rows ask for an email change (and hand its mails to SMTP after their batch commits). */
  emailChanges: EmailChanges;
  /** How add rows with SendActivationEmail mail their new user an activation link. */
  activation?: Activation;
}

function principalOf(imp: ImportRow): Principal {
  const r = imp.requestor as Record<string, string | null>;
  const list = (v: unknown): string[] | undefined =>
    Array.isArray(v) && v.every((x) => typeof x === 'string') ? v : undefined;
  const scopes = list(r.scopes);
  const profilePermissions = list(r.profile_permissions);
  const role = (r.role ?? 'member') as Principal['role'];
  let permissions = permissionsFor(role, profilePermissions ?? []);
  if (scopes) {
    const granted = scopeGrants(scopes);
    permissions = new Set([...permissions].filter((p) => granted.has(p)));
  }
  return {
    kind: r.kind as Principal['kind'],
    id: r.id!,
    label: r.label ?? '',
    organizationId: imp.organization_id,
    accountId: r.account_id ?? null,
    userId: r.user_id ?? null,
    role: (r.role ?? 'member') as Principal['role'],
    environment: (r.environment ?? 'test') as Principal['environment'],
    permissions,
    ...(scopes ? { scopes } : {}),
    ...(profilePermissions ? { profilePermissions } : {}),
  };
}

async function lease(db: Db, id: string, opts: ProcessOptions): Promise<ImportRow | null> {
  const row = await db
    .updateTable('imports')
    .set((eb) => ({
      lease_owner: opts.workerId,
      lease_until: new Date(Date.now() + opts.leaseSeconds * 1000),
      attempts: eb('attempts', '+', 1),
      updated_at: new Date(),
    }))
    .where('id', '=', id)
    .where('status', 'in', ['queued', 'in_process'])
    .where((eb) =>
      eb.or([
        eb('lease_until', 'is', null),
        eb('lease_until', '<', new Date()),
        eb('lease_owner', '=', opts.workerId),
      ]),
    )
    .returningAll()
    .executeTakeFirst();
  if (row) return row;
  const cur = await db.selectFrom('imports').select('status').where('id', '=', id).executeTakeFirst();
  if (!cur || !['queued', 'in_process'].includes(cur.status)) return null; // finished, failed or canceled
  throw new LeaseHeld(id);
}

async function release(db: Db, id: string, workerId: string): Promise<void> {
  await db
    .updateTable('imports')
    .set({ lease_owner: null, lease_until: null })
    .where('id', '=', id)
    .where('lease_owner', '=', workerId)
    .execute();
}

async function failImport(db: Db, id: string, code: string, message: string): Promise<void> {
  await clearSpilled(db, id); // a dry-run's simulated users
  await db.transaction().execute(async (trx) => {
    const failed = await trx
      .updateTable('imports')
      .set({
        status: 'failed',
        error: { code, message },
        completed_at: new Date(),
        updated_at: new Date(),
        lease_owner: null,
        lease_until: null,
      })
      .where('id', '=', id)
      .where('status', 'in', ['queued', 'in_process'])
      .returning(['id', 'organization_id', 'account_id'])
      .execute();
    await recordOutcomeEvents(trx, 'import.failed', failed);
  });
}

/** Marks an import failed after its job has used up its retries (a bug or a database outage, not the file). */
export async function giveUpImport(db: Db, id: string, err: unknown): Promise<void> {
  await failImport(
    db,
    id,
    'unspecified_error',
    `processing failed: ${(err as Error)?.message ?? String(err)}`,
  );
}

/**
 * ANALYZE of the tables a batch looks rows up in, after the first batch of a slice and each time the slice's
 * applied rows double. An import can grow an organization from a few users to a million within minutes, far
 * faster than autovacuum re-analyzes (and autovacuum may be off). Without it, the statistics and the plans
 * PostgreSQL cached for the batch queries (prepared statements) still describe a tiny table: the users look-up
 * by email was planned as a scan of the organization, so each batch cost more than the last (100,000 rows ran
 * at a third of the speed of 30,000). ANALYZE samples a bounded number of rows, takes a lock that does not
 * block writers, and invalidates the cached plans; doubling keeps it to about log2(rows / batch) runs.
 */
async function refreshStatistics(db: Db, dryRun: boolean): Promise<void> {
  // A dry-run writes no user; the table that grows is its spill (src/core/imports/spill.ts).
  if (dryRun) await sql`ANALYZE import_dry_users`.execute(db);
  else await sql`ANALYZE users, memberships, group_members`.execute(db);
}

/**
 * A soft ceiling on the heap while imports run. V8 lets its old generation grow to about four times what was
 * live at the last full collection before it collects again (the growing factor it picks when the heap limit
 * is the default ~2 GB or more); the server's live heap is ~50 MB, so an import, which makes ~100 MB/s of
 * short-lived objects (rows, plans, audit text), took the process's RSS up by ~150 MB of garbage waiting to
 * be collected (1,000,000 rows: +239 MB peak). After a batch (and every 10,000 rows of the validation pass),
 * once the heap and Buffers hold more than HEAP_SLACK bytes above what was live after the last collection, a
 * full collection runs (~20-40 ms for the ~50 MB live; every few batches). 1,000,000 rows: +239 MB before,
 * +178 MB with a 64 MB slack counting the heap only, +122 MB with 48 MB counting Buffers too, at the same
 * rate. This bounds the garbage, not the heap: nothing fails if an import needs more. Node
 * exposes `gc` only under --expose-gc; the flag is set here, once, and the function taken from a fresh context.
 */
const HEAP_SLACK = 48 * 1024 * 1024;
const fullGc: (() => void) | null = (() => {
  try {
    v8.setFlagsFromString('--expose-gc');
    const gc: unknown = vm.runInNewContext('gc');
    return typeof gc === 'function' ? (gc as () => void) : null;
  } catch {
    return null;
  }
})();
/** The heap in use plus Buffers' memory (file chunks, COPY data), which is also freed only by a collection. */
const heapUsed = (): number => {
  const h = v8.getHeapStatistics();
  return h.used_heap_size + h.external_memory;
};

/**
 * Collects once the heap exceeds the ceiling; returns the next ceiling: what is live now plus HEAP_SLACK, or
 * plus half the live heap when that is more (a full collection costs in proportion to what is live, so the
 * slack grows with it).
 */
function keepHeapDown(ceiling: number): number {
  if (!fullGc || heapUsed() <= ceiling) return ceiling;
  fullGc();
  const live = heapUsed();
  return live + Math.max(HEAP_SLACK, live / 2);
}

/** Processes an import until it is done or asked to yield. Safe to run again at any point (see the top). */
export async function processImport(db: Db, id: string, opts: ProcessOptions): Promise<ProcessOutcome> {
  let imp = await lease(db, id, opts);
  if (!imp) return 'done';
  const operation = imp.operation;

  // A dry-run's seat counters, as its committed batches left them; the users they changed are in its spill
  // (src/core/imports/spill.ts), so what it holds in memory is one batch, whatever the file's size.
  let drySeats: World['seats'] = new Map();

  // Validation pass: the whole file, parse only.
  let header: string[] = [];
  let heapCeiling = heapUsed() + HEAP_SLACK;
  if (!imp.validated) {
    let count = 0;
    let columns: ReturnType<typeof mapColumns> | null = null;
    try {
      for await (const item of readCsv(storedFile(db, id), { check: true })) {
        if ('header' in item) {
          header = item.header;
          columns = mapColumns(header, operation, imp.account_id !== null);
        } else if (++count % 10_000 === 0) heapCeiling = keepHeapDown(heapCeiling);
      }
    } catch (err) {
      if (!(err instanceof FileError)) throw err;
      await failImport(db, id, err.code, err.message);
      opts.log?.(`import ${id} failed: ${err.code}`);
      return 'done';
    }
    imp =
      (await db
        .updateTable('imports')
        .set({
          validated: true,
          status: 'in_process',
          header,
          invalid_column_headers: columns!.invalid,
          user_count: count,
          started_at: new Date(),
          updated_at: new Date(),
        })
        .where('id', '=', id)
        .where('status', 'in', ['queued', 'in_process'])
        .returningAll()
        .executeTakeFirst()) ?? null;
    if (!imp) return 'done'; // canceled meanwhile
  } else if (imp.dry_run && imp.last_row > 0) {
    // A dry-run resumes after its checkpoint with the seat counters and simulated users committed with it; if
    // PostgreSQL lost them (a crash empties UNLOGGED tables), it starts over (it wrote no user: this is safe).
    const seats = await loadDryState(db, id, imp.last_row);
    if (seats) {
      drySeats = seats;
    } else {
      await db.transaction().execute(async (trx) => {
        await trx.deleteFrom('import_rows').where('import_id', '=', id).execute();
        await clearSpilled(trx, id);
        imp = await trx
          .updateTable('imports')
          .set({
            last_row: 0,
            processed_user_count: 0,
            added_user_count: 0,
            updated_user_count: 0,
            closed_user_count: 0,
            no_action_required_user_count: 0,
            error_count: 0,
            warning_count: 0,
            error_rollups: {},
          })
          .where('id', '=', id)
          .returningAll()
          .executeTakeFirstOrThrow();
      });
    }
  }

  const principal = principalOf(imp);
  const dryRun = imp.dry_run;
  const meta = imp.request_meta as Ctx['meta'];
  const catalog = await Catalog.load(db, imp.organization_id);
  const reach = await Reach.of(db, principal);
  let checkpoint = imp.last_row;
  let env: Parameters<typeof planBatch>[1] | null = null;
  let batch: { row: number; fields: string[] }[] = [];

  const apply = async (rows: { row: number; fields: string[] }[]) => {
    const last = rows[rows.length - 1]!.row;
    for (let attempt = 0; ; attempt++) {
      let seatsAfter: World['seats'] | null = null;
      let mailIds: string[] = [];
      try {
        await db.transaction().execute(async (trx) => {
          const cur = await trx
            .selectFrom('imports')
            .select(['status', 'last_row', 'error_rollups'])
            .where('id', '=', id)
            .forUpdate()
            .executeTakeFirstOrThrow();
          if (cur.status !== 'in_process') throw new Canceled();
          if (cur.last_row !== checkpoint) throw new CheckpointMoved();
          // A dry-run's batch works on a copy of the seat counters, kept only if the batch commits.
          const world = imp!.dry_run
            ? new World(new Map([...drySeats].map(([a, s]) => [a, { ...s }])), id)
            : new World();
          const planned = await planBatch(trx, env!, world, rows, !imp!.dry_run);
          if (imp!.dry_run) {
            await saveSpilled(trx, id, world.changed);
            await saveDryState(trx, id, last, world.seats);
            seatsAfter = world.seats;
          } else {
            const executed = await executeBatch(trx, planned, opts.emailChanges, opts.activation ?? null);
            await appendAuditBulk(trx, principal, meta, executed.events);
            mailIds = executed.mailIds;
          }
          await insertRowResults(trx, id, planned.results);
          const n = { added: 0, updated: 0, closed: 0, none: 0, errors: 0 };
          const rollups = { ...(cur.error_rollups as Record<string, number>) };
          for (const r of planned.results) {
            if (r.status === 'error') {
              n.errors += 1;
              rollups[r.error_type!] = (rollups[r.error_type!] ?? 0) + 1;
            } else if (r.action === 'add') n.added += 1;
            else if (r.action === 'update') n.updated += 1;
            else if (r.action === 'close') n.closed += 1;
            else n.none += 1;
          }
          await trx
            .updateTable('imports')
            .set((eb) => ({
              last_row: last,
              processed_user_count: eb('processed_user_count', '+', rows.length),
              added_user_count: eb('added_user_count', '+', n.added),
              updated_user_count: eb('updated_user_count', '+', n.updated),
              closed_user_count: eb('closed_user_count', '+', n.closed),
              no_action_required_user_count: eb('no_action_required_user_count', '+', n.none),
              error_count: eb('error_count', '+', n.errors),
              // postgres.js serializes an object for a jsonb parameter (a string would become a JSON string).
              error_rollups: rollups,
              lease_until: new Date(Date.now() + opts.leaseSeconds * 1000),
              updated_at: new Date(),
            }))
            .where('id', '=', id)
            .execute();
        });
        checkpoint = last;
        if (seatsAfter) drySeats = seatsAfter;
        opts.emailChanges.dispatch(mailIds);
        return;
      } catch (err) {
        if (err instanceof Canceled || err instanceof CheckpointMoved) throw err;
        // A concurrent write (e.g. the same email created through the API) can fail a batch: plan it again
        // against the new state once; a second failure goes to the job's retry.
        if (attempt >= 1) throw err;
        opts.log?.(`import ${id}: batch ending at row ${last} failed (${(err as Error).message}); retrying`);
      }
    }
  };

  // Rows this slice has applied, and when to refresh the planner's statistics next (see refreshStatistics).
  let applied = 0;
  let analyzeAt = opts.batchSize;
  try {
    for await (const item of readCsv(storedFile(db, id), { check: false })) {
      if ('header' in item) {
        env = {
          operation,
          organizationId: imp.organization_id,
          principal,
          accountParam: imp.account_id,
          columns: mapColumns(item.header, operation, imp.account_id !== null),
          catalog,
          dryRun: imp.dry_run,
          reach,
        };
        continue;
      }
      if (item.row <= checkpoint) continue;
      batch.push(item);
      if (batch.length >= opts.batchSize) {
        await apply(batch);
        applied += batch.length;
        if (applied >= analyzeAt) {
          await refreshStatistics(db, dryRun);
          analyzeAt = applied * 2;
        }
        batch = [];
        heapCeiling = keepHeapDown(heapCeiling);
        if (opts.shouldYield()) {
          await release(db, id, opts.workerId);
          return 'yielded';
        }
      }
    }
    if (batch.length > 0) await apply(batch);
  } catch (err) {
    if (err instanceof Canceled) {
      await clearSpilled(db, id);
      return 'done';
    }
    if (err instanceof CheckpointMoved) {
      // Another worker advanced this import (its lease had lapsed): leave it to them.
      return 'done';
    }
    throw err;
  }
  await db.transaction().execute(async (trx) => {
    const completed = await trx
      .updateTable('imports')
      .set({
        status: 'completed',
        completed_at: new Date(),
        updated_at: new Date(),
        lease_owner: null,
        lease_until: null,
      })
      .where('id', '=', id)
      .where('status', '=', 'in_process')
      .returning(['id', 'organization_id', 'account_id'])
      .execute();
    await recordOutcomeEvents(trx, 'import.completed', completed);
    if (dryRun) await clearSpilled(trx, id);
  });
  opts.log?.(`import ${id} completed`);
  return 'done';
}
