// `signet import FILE.csv` and `signet export users|settings|envelopes|credits`: bulk jobs on a running Signet, through its API
// (docs/imports.md, docs/exports.md). The file is streamed up and the export streamed down, never held in
// memory; progress goes to stderr, results to stdout.
//
// Exit codes: 0 done (every row succeeded); 3 the import completed but rows failed; 1 the job failed, or the
// server could not be reached or refused the request; 2 bad usage (as every signet command).
import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import type { ExportView as CoreExportView } from '../core/exports/service.ts';
import type { ImportView as CoreImportView } from '../core/imports/service.ts';
import { apiError, CliError, call, remoteFromEnv, send, sleep } from './client.ts';
import { Progress } from './progress.ts';

export const ROWS_FAILED = 3;
const POLL_MS = 500;

// The fields of the API's import and export resources the CLI reads (all JSON-safe: no dates), taken from the
// services' views so that a renamed field fails to compile here rather than at a user's terminal.
type ImportView = Pick<
  CoreImportView,
  | 'id'
  | 'status'
  | 'dry_run'
  | 'user_count'
  | 'processed_user_count'
  | 'added_user_count'
  | 'updated_user_count'
  | 'closed_user_count'
  | 'no_action_required_user_count'
  | 'error_count'
  | 'warning_count'
  | 'error'
  | 'error_rollups'
  | 'invalid_column_headers'
>;
type ExportView = Pick<
  CoreExportView,
  'id' | 'status' | 'row_count' | 'size_bytes' | 'percent_completed' | 'error'
>;

const OPERATIONS = ['add', 'update', 'close'];

export async function runImport(args: string[], out: Writable = process.stdout): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      account: { type: 'string' },
      operation: { type: 'string', default: 'add' },
      'dry-run': { type: 'boolean', default: false },
    },
  });
  if (positionals.length !== 1) {
    throw new CliError(
      'usage: signet import FILE.csv [--account ID] [--operation add|update|close] [--dry-run]',
      2,
    );
  }
  const operation = values.operation!;
  if (!OPERATIONS.includes(operation)) {
    throw new CliError(`--operation must be add, update or close, not "${operation}"`, 2);
  }
  const file = positionals[0]!;
  const size = await stat(file).then(
    (s) => {
      if (!s.isFile()) throw new CliError(`${file} is not a file`, 2);
      return s.size;
    },
    (err: NodeJS.ErrnoException) => {
      if (err instanceof CliError) throw err;
      throw new CliError(`cannot read ${file}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`, 2);
    },
  );
  const remote = remoteFromEnv();

  const query = new URLSearchParams({ operation });
  if (values.account) query.set('account_id', values.account);
  if (values['dry-run']) query.set('dry_run', 'true');
  // Streamed from disk: undici sends the file as it reads it (duplex: 'half' is how fetch takes a stream).
  const res = await send(remote, 'POST', `/api/imports?${query}`, {
    body: Readable.toWeb(createReadStream(file)) as ReadableStream,
    headers: {
      'content-type': 'text/csv',
      'content-length': String(size),
      'content-disposition': `attachment; filename="${encodeURIComponent(path.basename(file))}"`,
    },
    duplex: 'half',
  } as RequestInit);
  if (res.status !== 202) throw await apiError(res, 'uploading the import');
  let imp = (await res.json()) as ImportView;
  const label = `import ${imp.id}`;
  process.stderr.write(
    `${label}: uploaded ${size} bytes${imp.dry_run ? ' (dry run: nothing will be changed)' : ''}\n`,
  );

  const progress = new Progress(label, 'rows');
  const tick = (v: ImportView) => ({ status: v.status, done: v.processed_user_count, total: v.user_count });
  const started = Date.now();
  const interrupt = () => {
    progress.stop();
    process.stderr.write(
      `\n${label} goes on in the server; follow it with GET ${remote.baseUrl}/api/imports/${imp.id}\n`,
    );
    process.exit(130);
  };
  process.once('SIGINT', interrupt);
  try {
    while (!['completed', 'failed', 'canceled'].includes(imp.status)) {
      progress.update(tick(imp));
      await sleep(POLL_MS);
      imp = await call<ImportView>(remote, 'GET', `/api/imports/${imp.id}`, 'reading the import');
    }
  } finally {
    process.off('SIGINT', interrupt);
  }
  progress.stop(tick(imp));

  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (imp.status !== 'completed') {
    const why = imp.error ? `${imp.error.code}: ${imp.error.message}` : 'canceled';
    throw new CliError(`${label} ${imp.status} after ${seconds} s: ${why}`);
  }
  const base = `${remote.baseUrl}/api/imports/${imp.id}`;
  const lines = [
    `Import ${imp.id} completed${imp.dry_run ? ' (dry run: the plan; nothing was changed)' : ''} in ${seconds} s: ${imp.user_count} rows`,
    `  ${imp.dry_run ? 'would add' : 'added'} ${imp.added_user_count}, updated ${imp.updated_user_count}, ` +
      `closed ${imp.closed_user_count}, no action ${imp.no_action_required_user_count}, ` +
      `errors ${imp.error_count}, warnings ${imp.warning_count}`,
  ];
  if (imp.invalid_column_headers.length > 0) {
    lines.push(`  ignored columns: ${imp.invalid_column_headers.join(', ')}`);
  }
  if (imp.error_rollups.length > 0) {
    lines.push('Errors by type:');
    const width = Math.max(...imp.error_rollups.map((r) => r.error_type.length));
    for (const r of imp.error_rollups) lines.push(`  ${r.error_type.padEnd(width)}  ${r.count}`);
  }
  lines.push(`Row results: ${base}/results.csv`);
  if (imp.error_count > 0) lines.push(`Failed rows: ${base}/rows?status=error`);
  out.write(`${lines.join('\n')}\n`);
  return imp.error_count > 0 ? ROWS_FAILED : 0;
}

const KINDS: Record<string, string> = {
  users: 'users',
  settings: 'account_settings',
  envelopes: 'envelopes',
  credits: 'credit_ledger',
};
const USAGE =
  'usage: signet export users|settings|envelopes|credits [--account ID …] [--updated-since ISO-8601] [--format csv|jsonl] [-o FILE]  (default: stdout)';

export async function runExport(args: string[], out: Writable = process.stdout): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      account: { type: 'string', multiple: true },
      format: { type: 'string', default: 'csv' },
      output: { type: 'string', short: 'o' },
      'updated-since': { type: 'string' },
    },
  });
  const kind = KINDS[positionals[0] ?? ''];
  if (!kind || positionals.length !== 1) throw new CliError(USAGE, 2);
  const format = values.format!;
  if (format !== 'csv' && format !== 'jsonl') {
    throw new CliError(`--format must be csv or jsonl, not "${format}"`, 2);
  }
  const remote = remoteFromEnv();
  let exp = await call<ExportView>(remote, 'POST', '/api/exports', 'creating the export', {
    kind,
    format,
    ...(values.account?.length ? { account_ids: values.account } : {}),
    // The server checks the instant and which kinds take it (envelopes, credits), and says so in a 400.
    ...(values['updated-since'] ? { updated_since: values['updated-since'] } : {}),
  });
  const label = `export ${exp.id}`;
  const progress = new Progress(label, '%');
  const tick = (v: ExportView) => ({ status: v.status, done: v.percent_completed, total: 100 });
  while (!['completed', 'failed'].includes(exp.status)) {
    progress.update(tick(exp));
    await sleep(POLL_MS);
    exp = await call<ExportView>(remote, 'GET', `/api/exports/${exp.id}`, 'reading the export');
  }
  progress.stop(tick(exp));
  if (exp.status === 'failed') {
    throw new CliError(`${label} failed: ${exp.error?.code ?? ''}: ${exp.error?.message ?? ''}`);
  }
  const res = await send(remote, 'GET', `/api/exports/${exp.id}/download`);
  if (!res.ok || !res.body) throw await apiError(res, 'downloading the export');
  const target = values.output ? createWriteStream(values.output) : out;
  await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream), target, {
    end: Boolean(values.output),
  });
  process.stderr.write(
    `${label}: ${exp.row_count} rows, ${exp.size_bytes} bytes${values.output ? ` written to ${values.output}` : ''}\n`,
  );
  return 0;
}
