// Durable jobs, in Signet's own PostgreSQL, through pg-boss.
//
// Why pg-boss 10 (pinned to the 10.x major; 11 needs Node 22) rather than graphile-worker 0.17: a job whose
// worker is killed (kill -9, OOM, a lost machine) must run again soon. pg-boss gives every active job an
// expiry, after which its maintenance puts the job back for a retry (like SQS's visibility timeout);
// graphile-worker 0.17 keeps a dead worker's job locked for 4 hours. Both fetch with SKIP LOCKED, so several
// processes share one queue and each job is delivered to one of them at a time.
//
// Expiry means a job must not run longer than its expiry, or it would be handed out twice. So an import works
// in time slices (half the expiry): at the end of a slice it releases its lease and queues a fresh job for the
// rest. Exactly-once per row does not depend on this: processImport's checkpoint check makes a batch commit
// once whatever the job library does (src/core/imports/service.ts).
import { randomUUID } from 'node:crypto';
import { CompiledQuery } from 'kysely';
import PgBoss from 'pg-boss';
import type { Config } from '../config.ts';
import { Activation } from '../core/auth/activation.ts';
import {
  ExportLeaseHeld,
  giveUpExport,
  processExport,
  sweepExpiredExports,
} from '../core/exports/service.ts';
import { giveUpImport, LeaseHeld, processImport } from '../core/imports/service.ts';
import { Mailer } from '../core/mail/mailer.ts';
import { resolverFor } from '../core/net/outbound.ts';
import { secretBoxOf } from '../core/secret-box.ts';
import { EmailChanges } from '../core/users/email-changes.ts';
import { ConnectTokens } from '../core/webhooks/connect-oauth.ts';
import { WebhookRelay } from '../core/webhooks/relay.ts';
import type { Db } from '../db/connection.ts';

const SCHEMA = 'pgboss';
const RETRY_LIMIT = 12;

/** pg-boss's executor interface over a Kysely connection or transaction. */
function executor(db: Db) {
  return {
    async executeSql(text: string, values: unknown[] = []) {
      // pg sends undefined as NULL; postgres.js refuses it.
      const params = values.map((v) => (v === undefined ? null : v));
      const result = await db.executeQuery(CompiledQuery.raw(text, params));
      return { rows: result.rows as unknown[] };
    },
  };
}

// Only used to build the INSERT of a job; it never connects (every send passes its own `db`).
const sender = new PgBoss({
  schema: SCHEMA,
  db: {
    executeSql: async () => {
      throw new Error('the job sender has no connection of its own');
    },
  },
});

function jobOptions(config: Config) {
  return {
    retryLimit: RETRY_LIMIT,
    retryDelay: 1,
    retryBackoff: true,
    expireInSeconds: config.jobExpireSeconds,
  };
}

/** Queues an import's job in the caller's transaction: the import is queued if and only if its job is. */
export async function enqueueImport(trx: Db, importId: string, config: Config): Promise<void> {
  await sender.send(
    config.importQueue,
    { import_id: importId },
    { ...jobOptions(config), db: executor(trx) },
  );
}

/** Queues an export's job in the caller's transaction, as for imports. */
export async function enqueueExport(trx: Db, exportId: string, config: Config): Promise<void> {
  await sender.send(
    config.exportQueue,
    { export_id: exportId },
    { ...jobOptions(config), db: executor(trx) },
  );
}

/** How often a process with workers deletes the content of expired exports. */
const EXPORT_SWEEP_MS = 10 * 60_000;

export interface JobRunner {
  readonly workerId: string;
  stop(): Promise<void>;
}

export interface RunnerOptions {
  /** A postgres:// URL of Signet's database (pg-boss keeps its own small pool). */
  url: string;
  db: Db;
  config: Config;
  /** Concurrent import jobs in this process; 0 only installs pg-boss's schema and queue (no work). */
  concurrency: number;
  log?: (msg: string) => void;
}

/**
 * Starts pg-boss (creating its schema on first use) and, with concurrency > 0, workers for the import queue.
 * Used by `signet start` (in-process workers), `signet worker`, and tests.
 */
export async function startJobRunner(opts: RunnerOptions): Promise<JobRunner> {
  const { config, db } = opts;
  const log = opts.log ?? (() => {});
  const workerId = `${process.pid}-${randomUUID().slice(0, 8)}`;
  const boss = new PgBoss({
    connectionString: opts.url,
    schema: SCHEMA,
    max: Math.max(2, opts.concurrency + 1),
    application_name: 'signet-jobs',
    supervise: opts.concurrency > 0,
    schedule: false,
    maintenanceIntervalSeconds: config.jobMaintenanceSeconds,
  });
  boss.on('error', (err: Error) => log(`job queue error: ${err.message}`));
  await boss.start();
  try {
    for (const queue of [config.importQueue, config.exportQueue]) {
      for (let attempt = 1; ; attempt++) {
        try {
          await boss.createQueue(queue, { name: queue, ...jobOptions(config) });
          break;
        } catch (err) {
          // Two processes starting at once both create it; the loser finds it there, or (PostgreSQL reports a
          // deadlock between the two creations) finds it on a second try.
          if (await boss.getQueue(queue)) break;
          if (attempt >= 3) throw err;
        }
      }
    }
  } catch (err) {
    await boss.stop({ graceful: false }).catch(() => {}); // a failed start leaves no timers running
    throw err;
  }
  let stopping = false;
  const sliceMs = (config.jobExpireSeconds * 1000) / 2;
  // Import update rows that change an email mail the confirmation link, as the API does (sent after their
  // batch commits, when SMTP is configured).
  const mailer = new Mailer(db, config);
  mailer.onError = (err, id) => log(`sending mail ${id} failed: ${(err as Error).message}`);
  const emailChanges = new EmailChanges(db, mailer, config.environment, config.publicUrl);
  const activation = Activation.of(db, mailer, config);
  for (let i = 0; i < opts.concurrency; i++) {
    await boss.work(
      config.importQueue,
      { batchSize: 1, pollingIntervalSeconds: 0.5, includeMetadata: true },
      async ([job]) => {
        if (!job) return;
        const importId = (job.data as { import_id: string }).import_id;
        const started = Date.now();
        try {
          const outcome = await processImport(db, importId, {
            workerId,
            batchSize: config.importBatchSize,
            leaseSeconds: config.jobExpireSeconds,
            shouldYield: () => stopping || Date.now() - started > sliceMs,
            log,
            emailChanges,
            activation,
          });
          if (outcome === 'yielded') {
            await boss.send(config.importQueue, { import_id: importId }, jobOptions(config));
          }
        } catch (err) {
          const retries = (job as { retryCount?: number }).retryCount ?? 0;
          if (!(err instanceof LeaseHeld)) log(`import ${importId}: ${(err as Error).message}`);
          if (retries >= RETRY_LIMIT && !(err instanceof LeaseHeld)) await giveUpImport(db, importId, err);
          throw err;
        }
      },
    );
  }
  // Exports: generated in time slices like imports (src/core/exports/service.ts).
  for (let i = 0; i < opts.concurrency; i++) {
    await boss.work(
      config.exportQueue,
      { batchSize: 1, pollingIntervalSeconds: 0.5, includeMetadata: true },
      async ([job]) => {
        if (!job) return;
        const exportId = (job.data as { export_id: string }).export_id;
        const started = Date.now();
        try {
          const outcome = await processExport(db, exportId, {
            workerId,
            leaseSeconds: config.jobExpireSeconds,
            retentionHours: config.exportRetentionHours,
            publicUrl: config.publicUrl,
            shouldYield: () => stopping || Date.now() - started > sliceMs,
            log,
          });
          if (outcome === 'yielded') {
            await boss.send(config.exportQueue, { export_id: exportId }, jobOptions(config));
          }
        } catch (err) {
          const retries = (job as { retryCount?: number }).retryCount ?? 0;
          const held = err instanceof ExportLeaseHeld;
          if (!held) log(`export ${exportId}: ${(err as Error).message}`);
          if (retries >= RETRY_LIMIT && !held) await giveUpExport(db, exportId, err);
          throw err;
        }
      },
    );
  }
  // Expired exports lose their content here; several processes sweeping at once skip each other's rows.
  let sweep: NodeJS.Timeout | null = null;
  if (opts.concurrency > 0) {
    const run = () =>
      sweepExpiredExports(db)
        .then((n) => n > 0 && log(`purged ${n} expired export(s)`))
        .catch((err: unknown) => log(`export sweep failed: ${(err as Error).message}`));
    sweep = setInterval(run, EXPORT_SWEEP_MS);
    sweep.unref();
    void run();
  }
  // Webhooks: the relay that empties the outbox (src/core/webhooks/relay.ts). Each delivery's schedule
  // (backoff, jitter, Retry-After) lives in its row, claimed with SKIP LOCKED and a lease, so any number of
  // processes share the work and a crashed one's claims lapse; a pg-boss job per attempt would add nothing.
  let relay: WebhookRelay | null = null;
  if (opts.concurrency > 0 && config.webhookDelivery) {
    const policy = { allow: config.outboundAllow, allowHttp: config.outboundAllowHttp };
    const resolve = resolverFor(config.dnsServers);
    const box = secretBoxOf(db, config.secretKeys);
    relay = new WebhookRelay(
      db,
      {
        policy,
        resolve,
        timeoutMs: config.webhookTimeoutMs,
        retrySeconds: config.webhookRetrySeconds,
        disableAfterSeconds: config.webhookDisableAfterSeconds,
        perEndpoint: config.webhookEndpointConcurrency,
        organizations: config.webhookOrganizations,
        tokens: new ConnectTokens(policy, resolve, config.webhookTimeoutMs, box),
        mailer,
        publicUrl: config.publicUrl,
        box,
      },
      log,
    );
    relay.start();
  }
  return {
    workerId,
    async stop() {
      stopping = true;
      if (sweep) clearInterval(sweep);
      await relay?.stop();
      // Running slices end at their next batch boundary and queue their continuation.
      await boss.stop({ graceful: true, wait: true, timeout: 15_000 });
      await mailer.flush();
    },
  };
}
