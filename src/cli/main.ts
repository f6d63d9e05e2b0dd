// `signet <command>`: start, migrate, bootstrap, audit verify, mail list; import and export (over the API).
// Each command's module is imported only when that command runs (issue 15): `signet --help` loads nothing but
// this file, `signet import` only the HTTP client, and only `start` loads the server.
import { parseArgs } from 'node:util';
import { CliError } from './client.ts';

// Each command's usage: `signet --help` lists the first lines, `signet help CMD` and `signet CMD --help` print
// the whole entry. The synopsis is the command's first line; what follows explains it.
const COMMANDS: Record<string, { synopsis: string; summary: string; details?: string }> = {
  start: {
    synopsis: 'start',
    summary: 'run the server (PORT, HOST, SIGNET_DATA_DIR, DATABASE_URL, SIGNET_ENV)',
    details:
      'Opens the database (the embedded one in SIGNET_DATA_DIR unless DATABASE_URL is set), applies pending\n' +
      'migrations, runs the job workers (SIGNET_WORKERS) and listens on HOST:PORT until SIGINT or SIGTERM.',
  },
  worker: {
    synopsis: 'worker [--concurrency N]',
    summary: 'run job workers only (imports, exports), no HTTP; run several to scale out',
    details: '  --concurrency N   jobs run at once, 1 to 64 (default SIGNET_WORKERS, at least 1)',
  },
  migrate: { synopsis: 'migrate', summary: 'apply pending database migrations, then exit' },
  bootstrap: {
    synopsis: 'bootstrap --email E --org NAME --account NAME [--password P] [--new-organization] [--json]',
    summary: 'create (idempotently) an organization, its first account, an owner and an API key',
    details:
      "  --email E            the owner's email address\n" +
      '  --org NAME           the organization; run again with the same email and name, it is found, not made\n' +
      '  --account NAME       its first account\n' +
      "  --password P         the owner's password for the dashboard (the default password policy: 12+ characters, mixed case, a digit)\n" +
      '  --new-organization   make a new organization even though one of that name exists with another owner\n' +
      '  --json               print {"organization_id","account_id","user_id","api_key"} on one line',
  },
  audit: {
    synopsis: 'audit verify [--org ID]',
    summary: 'recompute the audit hash chains; exits 1 at the first broken event',
  },
  credits: {
    synopsis: 'credits grant --org ID --amount N --reason TEXT [--json]',
    summary: "grant credits to an organization's pool, as the server's operator (audited, in its ledger)",
    details:
      '  --org ID        the organization (a connected account, a platform, any organization)\n' +
      '  --amount N      a whole number from 1 to 1000000\n' +
      '  --reason TEXT   why; kept in the ledger and the audit log\n' +
      '  --json          print the ledger entry with the balance after it\n' +
      'A platform grants to its own connected accounts over the API (POST /api/credits/grants); this is the\n' +
      "operator's way, for any organization on this server's database.",
  },
  mail: {
    synopsis: 'mail list [--to EMAIL] [--limit N] [--json]',
    summary: 'the mail Signet sent or queued (newest first; without SMTP_URL, the outbox)',
  },
  import: {
    synopsis: 'import FILE.csv [--account ID] [--operation add|update|close] [--dry-run]',
    summary:
      'upload a CSV import, show its progress, print the summary; exits 0 when every\n' +
      'row succeeded, 3 when rows failed, 1 when the import or the connection failed',
    details: 'Talks to the server at SIGNET_URL (default http://127.0.0.1:8080) with SIGNET_API_KEY.',
  },
  webhooks: {
    synopsis: 'webhooks listen --forward-to URL [--events T,…] [--account ID] [--port N]',
    summary: "print and forward your account's events to a local URL, through an endpoint it registers",
    details:
      '  --forward-to URL   where each event is POSTed, body and headers unchanged (its status is the answer)\n' +
      '  --events T,…       event types, or * (default)\n' +
      "  --account ID       the account (default: the key's)\n" +
      '  --port N           the loopback port Signet delivers to (default: any free one)\n' +
      'Talks to the server at SIGNET_URL with SIGNET_API_KEY (webhooks:write). The server must be allowed to\n' +
      'reach this machine: a development server with SIGNET_OUTBOUND_ALLOW_HTTP=true and\n' +
      'SIGNET_OUTBOUND_ALLOW=127.0.0.1. Ctrl-C deletes the endpoint.',
  },
  export: {
    synopsis:
      'export users|settings|envelopes|credits [--account ID …] [--updated-since TIME] [--format csv|jsonl] [-o FILE]',
    summary:
      'export users (one row per membership), account settings, envelopes or the credit ledger to stdout (or FILE)',
    details: 'Talks to the server at SIGNET_URL (default http://127.0.0.1:8080) with SIGNET_API_KEY.',
  },
};

const indent = (text: string) => text.replace(/^/gm, '                            ').trimStart();
const line = (name: string) => {
  const { synopsis, summary } = COMMANDS[name]!;
  return synopsis.length < 26
    ? `  ${synopsis.padEnd(26)}${indent(summary)}`
    : `  ${synopsis}\n                            ${indent(summary)}`;
};

const USAGE = `Usage: signet <command> [options]     (signet help <command>, signet <command> --help)

Commands:
${['start', 'worker', 'migrate', 'bootstrap', 'audit', 'credits', 'mail'].map(line).join('\n')}

Over the API of a running Signet (SIGNET_URL, default http://127.0.0.1:8080; SIGNET_API_KEY):
${['import', 'export', 'webhooks'].map(line).join('\n')}

Errors are one line; --verbose (or LOG_LEVEL=debug) shows their details. See README.md and docs/ for more.`;

function usageOf(name: string): string {
  const c = COMMANDS[name]!;
  return `Usage: signet ${c.synopsis}\n\n${c.summary.replace(/\n/g, ' ')}${c.details ? `\n\n${c.details}` : ''}`;
}

function fail(message: string): number {
  process.stderr.write(`signet: ${message}\n`);
  return 2;
}

function describe(err: unknown): string {
  return err instanceof Error ? (err.stack ?? err.message) : String(err);
}

/** The first line of an error, for the one-line report (details only with --verbose or LOG_LEVEL=debug). */
function oneLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split('\n').find((l) => l.trim() !== '') ?? String(err);
}

export async function main(args: string[]): Promise<number> {
  const verbose = args.includes('--verbose') || process.env.LOG_LEVEL === 'debug';
  const argv = args.filter((a) => a !== '--verbose');
  const [command, ...rest] = argv;
  // Help needs no configuration: it works with any environment, and before any database exists.
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    const topic = command === 'help' ? rest[0] : undefined;
    if (topic === undefined) {
      process.stdout.write(`${USAGE}\n`);
      return command === undefined ? 2 : 0;
    }
    if (!Object.hasOwn(COMMANDS, topic)) return fail(`unknown command "${topic}"; try: signet --help`);
    process.stdout.write(`${usageOf(topic)}\n`);
    return 0;
  }
  if (Object.hasOwn(COMMANDS, command) && (rest.includes('--help') || rest.includes('-h'))) {
    process.stdout.write(`${usageOf(command)}\n`);
    return 0;
  }
  try {
    // These talk to a server over HTTP: no database, so no server configuration.
    if (command === 'import') return await (await import('./bulk.ts')).runImport(rest);
    if (command === 'export') return await (await import('./bulk.ts')).runExport(rest);
    if (command === 'webhooks') {
      if (rest[0] !== 'listen') return fail('usage: signet webhooks listen --forward-to URL');
      return await (await import('./listen.ts')).runListen(rest.slice(1));
    }
    if (!Object.hasOwn(COMMANDS, command)) return fail(`unknown command "${command}"; try: signet --help`);
    const { loadConfig } = await import('../config.ts');
    const config = loadConfig();
    const log = (m: string) => process.stderr.write(`${m}\n`);
    const { openDatabase } = await import('../db/index.ts');
    switch (command) {
      case 'start':
        return await (await import('./start.ts')).startServer(config);
      case 'worker': {
        const { values } = parseArgs({ args: rest, options: { concurrency: { type: 'string' } } });
        const n = values.concurrency === undefined ? Math.max(1, config.workers) : Number(values.concurrency);
        if (!Number.isInteger(n) || n < 1 || n > 64)
          return fail('--concurrency must be an integer from 1 to 64');
        return await (await import('./worker.ts')).startWorker(config, n);
      }
      case 'migrate': {
        const db = await openDatabase(config, { log });
        await db.close();
        log('migrations are up to date');
        return 0;
      }
      case 'bootstrap':
        return await (await import('./bootstrap.ts')).runBootstrap(rest, config);
      case 'audit': {
        if (rest[0] !== 'verify')
          return fail(`unknown audit command "${rest[0] ?? ''}"; try: signet audit verify`);
        const { values } = parseArgs({ args: rest.slice(1), options: { org: { type: 'string' } } });
        const { AuditService } = await import('../core/audit/service.ts');
        const db = await openDatabase(config, { log: () => {} });
        try {
          const result = await new AuditService(db.db).verify(values.org);
          if (result.ok) {
            process.stdout.write(
              `audit chain intact: ${result.events} events in ${result.organizations} organizations\n`,
            );
            return 0;
          }
          const b = result.broken!;
          process.stdout.write(
            `audit chain BROKEN in organization ${b.organization_id} at event #${b.seq}` +
              `${b.event_id ? ` (id ${b.event_id})` : ''}: ${b.reason}\n`,
          );
          return 1;
        } finally {
          await db.close();
        }
      }
      case 'credits': {
        if (rest[0] !== 'grant')
          return fail(`unknown credits command "${rest[0] ?? ''}"; try: signet credits grant --help`);
        const { values } = parseArgs({
          args: rest.slice(1),
          options: {
            org: { type: 'string' },
            amount: { type: 'string' },
            reason: { type: 'string' },
            json: { type: 'boolean', default: false },
          },
        });
        if (!values.org || !values.amount || values.reason === undefined)
          return fail('credits grant needs --org ID --amount N --reason TEXT; try: signet credits --help');
        if (!/^\d+$/.test(values.amount)) return fail('--amount must be a whole number from 1 to 1000000');
        const { isUuid } = await import('../core/ids.ts');
        if (!isUuid(values.org))
          return fail(`--org must be an organization id (a UUID), got "${values.org}"`);
        const { CreditsService } = await import('../core/credits/ledger.ts');
        const { systemPrincipal } = await import('../core/principal.ts');
        const db = await openDatabase(config, { log: () => {} });
        try {
          // The operator acts as the system, audited in the organization's own chain (actor "signet CLI").
          const grant = await new CreditsService(db.db).grant(
            { principal: systemPrincipal(values.org, config.environment), meta: {} },
            { organization_id: values.org, amount: Number(values.amount), reason: values.reason },
          );
          process.stdout.write(
            values.json
              ? `${JSON.stringify(grant)}\n`
              : `granted ${grant.amount} credits to ${grant.organization_id}; balance ${grant.balance}\n`,
          );
          return 0;
        } catch (err) {
          const { AppError } = await import('../core/errors.ts');
          if (!(err instanceof AppError)) throw err;
          // Refused (no such organization, an amount out of range): one line, exit 1 like a failed command.
          process.stderr.write(`signet: ${err.code}: ${err.message}\n`);
          return 1;
        } finally {
          await db.close();
        }
      }
      case 'mail': {
        if (rest[0] !== 'list') return fail(`unknown mail command "${rest[0] ?? ''}"; try: signet mail list`);
        const { values } = parseArgs({
          args: rest.slice(1),
          options: {
            to: { type: 'string' },
            limit: { type: 'string' },
            json: { type: 'boolean', default: false },
          },
        });
        const limit = values.limit === undefined ? 100 : Number(values.limit);
        if (!Number.isInteger(limit) || limit < 1 || limit > 10_000)
          return fail('--limit must be an integer from 1 to 10000');
        const { Mailer } = await import('../core/mail/mailer.ts');
        const db = await openDatabase(config, { log: () => {} });
        try {
          const mails = await new Mailer(db.db, config).list({ to: values.to, limit });
          if (values.json) {
            process.stdout.write(`${JSON.stringify(mails)}\n`);
          } else if (mails.length === 0) {
            process.stdout.write('no mail\n');
          } else {
            for (const m of mails) {
              process.stdout.write(
                `--- ${m.id}  ${m.created_at.toISOString()}  ${m.sent_at ? `sent ${m.sent_at.toISOString()}` : 'not sent (outbox)'}\n` +
                  `To: ${m.to}\nSubject: ${m.subject}\n\n${m.text}\n\n`,
              );
            }
          }
          return 0;
        } finally {
          await db.close();
        }
      }
      default:
        return fail(`unknown command "${command}"; try: signet --help`);
    }
  } catch (err) {
    // Loaded again only to compare (it is cached): a ConfigError can only come from a command that loaded it.
    if (err instanceof (await import('../config.ts')).ConfigError) return fail(err.message);
    if (err instanceof CliError) {
      process.stderr.write(`signet: ${err.message}\n`);
      if (verbose && err.cause) process.stderr.write(`${describe(err.cause)}\n`);
      return err.code;
    }
    if (err instanceof TypeError && (err as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) {
      return fail(`${err.message}; try: signet ${command} --help`);
    }
    // Anything else is unexpected: one line for the person at the terminal, the whole story on request.
    process.stderr.write(
      verbose
        ? `signet: ${command} failed: ${describe(err)}\n`
        : `signet: ${command} failed: ${oneLine(err)} (--verbose shows details)\n`,
    );
    return 1;
  }
}
