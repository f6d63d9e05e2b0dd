// The baseline for bench/envelopes.ts (issue 12's performance target): Signet itself — the same server, routes,
// authentication, audit, history, signing mail and transaction per request — with the envelope service wired
// without its two costs under test: the PDF check (pdf-lib parsing the whole document; here only the SHA-256
// the row needs) and the credit ledger write (the debit of the payer's balance row, which concurrent sends
// queue on, and its ledger entry). Nothing else differs from `signet start`: no job runner, which the bench's
// `signet start` runs with SIGNET_WORKERS=0 (no workers, only pg-boss's own upkeep).
// Listens on 127.0.0.1:$PORT, on DATABASE_URL; stops on SIGTERM/SIGINT.
import { createHash } from 'node:crypto';
import { loadConfig } from '../src/config.ts';
import { EnvelopesService } from '../src/core/envelopes/service.ts';
import { resolverFor } from '../src/core/net/outbound.ts';
import { connect } from '../src/db/connection.ts';
import { buildServer } from '../src/server.ts';
import { createServices } from '../src/services.ts';

const config = loadConfig();
const handle = connect(String(process.env.DATABASE_URL), config.dbPoolSize);
const services = createServices(handle.db, config);
const { signing } = services;
// The same options as src/services.ts gives the service, and the two no-ops.
services.envelopes = new EnvelopesService(handle.db, {
  publicUrl: config.publicUrl,
  maxBytes: config.envelopeMaxBytes,
  outbound: { allow: config.outboundAllow, allowHttp: config.outboundAllowHttp },
  resolve: resolverFor(config.dnsServers),
  fetchTimeoutMs: config.webhookTimeoutMs,
  signUrl: (envelope, partyId) => signing.signUrl(envelope, partyId),
  startTurn: (trx, envelope, party, opts) => signing.startTurn(trx, envelope, party, opts),
  checkPdf: async (bytes) => ({
    bytes,
    pageCount: 1,
    sha256: createHash('sha256').update(bytes).digest('hex'),
  }),
  postCredit: async () => null as never,
});
const server = await buildServer(config, services, {
  ready: async () => {
    await handle.sql`SELECT 1`;
    return true;
  },
});

const stop = () => {
  server
    .close()
    .then(() => handle.close())
    .finally(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);

await server.listen({ port: config.port, host: config.host });
