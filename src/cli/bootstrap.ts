// `signet bootstrap`: the headless first setup (core/bootstrap.ts), plus the checks only the command line can
// make: that the key it prints is for the database of the server the person will send it to. It reads the
// server's state file in its own data folder (a server there uses this very database) and asks the server on
// PORT for its database id (/healthz); a server on another data folder or database is named, and no key made.
import { parseArgs } from 'node:util';
import type { Config } from '../config.ts';
import { ApiKeysService } from '../core/api-keys/service.ts';
import { DEFAULT_POLICY, unmetRules } from '../core/auth/password-policy.ts';
import { bootstrap } from '../core/bootstrap.ts';
import { isEmail } from '../core/email.ts';
import { AppError } from '../core/errors.ts';
import { readInstance } from '../core/instance.ts';
import { embeddedDatabaseExists, readServerState } from '../db/embedded.ts';
import { openDatabase } from '../db/index.ts';
import { CliError } from './client.ts';

export async function runBootstrap(args: string[], config: Config): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      email: { type: 'string' },
      org: { type: 'string' },
      account: { type: 'string' },
      password: { type: 'string' },
      'new-organization': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
  });
  if (!values.email || !isEmail(values.email))
    throw new CliError('bootstrap needs --email with an email address', 2);
  if (!values.org) throw new CliError('bootstrap needs --org NAME', 2);
  if (!values.account) throw new CliError('bootstrap needs --account NAME', 2);
  if (values.password !== undefined) {
    // A new organization's account starts with the default password policy (docs/people-and-sessions.md).
    const unmet = unmetRules(DEFAULT_POLICY, values.password, values.email);
    if (unmet.length > 0) {
      throw new CliError(`--password must have ${unmet.map((d) => d.message).join('; ')}`, 2);
    }
  }

  const where = config.databaseUrl ? 'DATABASE_URL' : `SIGNET_DATA_DIR=${config.dataDir}`;
  // A server on this data folder uses this database: its environment is the one to match, and it need not
  // be asked over HTTP. (Its environment is in the database too, but it may not have recorded it yet.)
  const local = config.databaseUrl ? null : await readServerState(config.dataDir);
  if (local && local.environment !== config.environment) throw envMismatch(local.environment, config);
  const remote = local ? null : await probeServer(config);
  // Nothing here yet, but a Signet answers on PORT: it keeps its database elsewhere. Say so before creating
  // a second database that nobody serves.
  if (remote?.databaseId && !config.databaseUrl && !(await embeddedDatabaseExists(config.dataDir))) {
    throw otherDatabase(remote.url, `${where} holds no database yet`);
  }

  const db = await openDatabase(config, { log: () => {} });
  try {
    const facts = await readInstance(db.db);
    if (remote?.databaseId && remote.databaseId !== facts.databaseId) {
      throw otherDatabase(remote.url, `it is not the database of ${where}`);
    }
    // The key service alone, not createServices(): that would load the whole server (issue 15: start-up).
    const apiKeys = new ApiKeysService(db.db, config.environment, config.keyCacheTtlMs);
    const { hashPassword } = await import('../core/passwords.ts');
    const result = await bootstrap(db.db, apiKeys, config.environment, {
      email: values.email,
      organizationName: values.org,
      accountName: values.account,
      passwordHash: values.password ? await hashPassword(values.password) : null,
      newOrganization: values['new-organization'],
    }).catch((err: unknown) => {
      throw err instanceof AppError ? new CliError(err.message, 1, { cause: err }) : err;
    });
    // `npm start & npx signet bootstrap …` then curl: the server may still be starting (migrations, job
    // queues) when the key is made. Wait for it, so the next command of the README's first steps finds it.
    if (!config.databaseUrl) await waitServerReady(config.dataDir);
    const out = {
      organization_id: result.organization_id,
      account_id: result.account_id,
      user_id: result.user_id,
      api_key: result.api_key,
    };
    if (values.json) process.stdout.write(`${JSON.stringify(out)}\n`);
    else {
      process.stdout.write(
        `${result.created ? 'Created' : 'Found'} organization ${out.organization_id}\n` +
          `  account ${out.account_id}\n  owner   ${out.user_id} (${values.email})\n` +
          `New API key (shown once): ${out.api_key}\n`,
      );
    }
    return 0;
  } finally {
    await db.close();
  }
}

function envMismatch(serverEnv: string, config: Config): CliError {
  return new CliError(
    `the Signet server on this data folder runs with SIGNET_ENV=${serverEnv}, and an sk_${config.environment}_ key ` +
      `would be refused there; run bootstrap with SIGNET_ENV=${serverEnv}`,
  );
}

function otherDatabase(url: string, why: string): CliError {
  return new CliError(
    `the Signet server at ${url} uses another database (${why}), so a key made here would be refused there; ` +
      "run bootstrap with that server's SIGNET_DATA_DIR (or DATABASE_URL), or set PORT to the server you mean",
  );
}

/** Waits (bounded, saying so once) until the server on this data folder, if one runs, answers /readyz. */
async function waitServerReady(dataDir: string, waitMs = 120_000): Promise<void> {
  const deadline = Date.now() + waitMs;
  let told = false;
  for (;;) {
    const server = await readServerState(dataDir);
    if (server === null || server.port === 0) return; // none (any more): the key works once one runs
    const host = server.host === '0.0.0.0' ? '127.0.0.1' : server.host === '::' ? '::1' : server.host;
    const url = `http://${host.includes(':') ? `[${host}]` : host}:${server.port}`;
    const ready = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) return;
    if (Date.now() > deadline) {
      process.stderr.write(`signet: the Signet server (pid ${server.pid}) is not ready at ${url} yet\n`);
      return;
    }
    if (!told) {
      process.stderr.write(
        `signet: waiting for the Signet server (pid ${server.pid}) to be ready at ${url}…\n`,
      );
      told = true;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The Signet answering on HOST:PORT, with the id of its database; null when nothing (or no Signet) answers. */
async function probeServer(config: Config): Promise<{ url: string; databaseId: string | null } | null> {
  const host = config.host === '0.0.0.0' ? '127.0.0.1' : config.host === '::' ? '::1' : config.host;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${config.port}`;
  try {
    const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) });
    if (!res.ok) return null;
    const body = (await res.json()) as { status?: unknown; database_id?: unknown };
    if (body.status !== 'ok') return null;
    return { url, databaseId: typeof body.database_id === 'string' ? body.database_id : null };
  } catch {
    return null; // nothing listens there (bootstrap before the first start is fine), or not a Signet
  }
}
