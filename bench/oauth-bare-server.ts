// The baselines for bench/oauth.ts: a bare oidc-provider (one static client, nothing of Signet's HTTP stack,
// request guards or audit) serving the same two grants at /oauth/token: client_credentials, and the JWT
// bearer grant with Signet's own grant handler (src/core/oauth/jwt-grant.ts). Two stores:
//   BARE_STORE=memory (default): oidc-provider's in-memory adapter, the JWT grant's lookups answered from
//     memory — the library alone, the yardstick;
//   BARE_STORE=pg: Signet's PostgreSQL adapter (src/core/oauth/adapter.ts, the same coalesced token INSERT)
//     and Signet's one-query JWT-grant lookup (IntegrationLookup.jwtGrantFacts) on DATABASE_URL — the same
//     SQL Signet runs per grant, in the smallest server that runs it: the limit of the stack.
// Listens on 127.0.0.1:$PORT; reads its client from $BARE_CLIENT (JSON: client_id, client_secret,
// public_key_pem, user_id, and for pg: integration_id, organization_id). Stops on SIGTERM/SIGINT.
import Provider, { type Configuration } from 'oidc-provider';
import { IntegrationLookup } from '../src/core/integrations/lookup.ts';
import { PayloadWriter, PgAdapter } from '../src/core/oauth/adapter.ts';
import { JWT_BEARER } from '../src/core/oauth/clients.ts';
import { jwtBearerGrant } from '../src/core/oauth/jwt-grant.ts';
import { connect } from '../src/db/connection.ts';

const port = Number(process.env.PORT);
const client = JSON.parse(process.env.BARE_CLIENT ?? '{}') as {
  client_id: string;
  client_secret: string;
  public_key_pem: string;
  user_id: string;
  integration_id?: string;
  organization_id?: string;
};
const SCOPES = ['signature', 'impersonation'];
const pg = process.env.BARE_STORE === 'pg';
const handle = pg ? connect(String(process.env.DATABASE_URL), 10) : null;

const clientMetadata = {
  client_id: client.client_id,
  client_secret: client.client_secret,
  grant_types: ['client_credentials', JWT_BEARER],
  response_types: [],
  redirect_uris: [],
  scope: SCOPES.join(' '),
  signet_integration_id: client.integration_id ?? 'bare',
  signet_organization_id: client.organization_id ?? 'bare',
};

const storage: Partial<Configuration> = handle
  ? (() => {
      const hooks = {
        writer: new PayloadWriter(handle.db),
        findClient: async (id: string) => (id === client.client_id ? clientMetadata : undefined),
      };
      return { adapter: (name: string) => new PgAdapter(handle.db, name, hooks) };
    })()
  : { clients: [clientMetadata] };

const provider = new Provider(`http://127.0.0.1:${port}`, {
  ...storage,
  extraClientMetadata: { properties: ['signet_integration_id', 'signet_organization_id'] },
  scopes: SCOPES,
  features: { clientCredentials: { enabled: true }, devInteractions: { enabled: false } },
  routes: { token: '/oauth/token' },
  ttl: { ClientCredentials: 3600, AccessToken: 3600 },
});
const lookup = handle
  ? new IntegrationLookup(handle.db)
  : {
      jwtGrantFacts: async (_integration: unknown, userId: string) => ({
        keys: [{ kid: 'bare', pem: client.public_key_pem }],
        consented: SCOPES,
        userStatus: userId === client.user_id ? 'active' : undefined,
      }),
    };
provider.registerGrantType(
  JWT_BEARER,
  jwtBearerGrant({
    // Only used for a `jti`, which the bench's assertions do not carry.
    db: (handle?.db ?? null) as never,
    lookup,
    audience: `127.0.0.1:${port}`,
  }),
  ['assertion', 'scope'],
);

const server = provider.listen(port, '127.0.0.1');
const stop = () =>
  server.close(async () => {
    await handle?.close();
    process.exit(0);
  });
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
