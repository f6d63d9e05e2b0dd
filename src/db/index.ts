// Opens Signet's database: the external server named by DATABASE_URL, or the embedded one.
import type { Config } from '../config.ts';
import { resealAll, secretBoxOf } from '../core/secret-box.ts';
import { connect, type DbHandle } from './connection.ts';
import { startEmbedded } from './embedded.ts';
import { migrate } from './migrate.ts';

export interface OpenDatabase extends DbHandle {
  url: string;
  embedded: boolean;
}

export async function openDatabase(
  config: Config,
  opts: { migrate?: boolean; log?: (m: string) => void; notice?: (m: string) => void } = {},
): Promise<OpenDatabase> {
  const log = opts.log ?? (() => {});
  // A wait for another process creating the embedded database is told on stderr unless the caller says where.
  const notice = opts.notice ?? ((m: string) => process.stderr.write(`signet: ${m}\n`));
  const embedded = config.databaseUrl ? null : await startEmbedded(config.dataDir, { log, notice });
  const url = config.databaseUrl ?? embedded!.url;
  const handle = connect(url, config.dbPoolSize);
  try {
    if (opts.migrate !== false) {
      const applied = await migrate(handle.sql);
      for (const name of applied) log(`applied migration ${name}`);
      // Secrets stored before sealing existed, or sealed with a key that is no longer the first, are sealed
      // with the current key (src/core/secret-box.ts): the part of a migration SQL cannot do.
      const resealed = await resealAll(handle.db, secretBoxOf(handle.db, config.secretKeys));
      if (resealed > 0) log(`sealed ${resealed} stored secrets with the current key`);
    }
  } catch (err) {
    await handle.close();
    await embedded?.stop();
    throw err;
  }
  return {
    ...handle,
    url,
    embedded: embedded !== null,
    async close() {
      await handle.close();
      await embedded?.stop();
    },
  };
}
