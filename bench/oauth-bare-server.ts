// The baseline for bench/oauth.ts: a bare oidc-provider (its in-memory adapter, one static client, nothing of
// Signet's storage or HTTP stack) serving the same two grants at /oauth/token: client_credentials, and the
// JWT bearer grant with Signet's own grant handler (src/core/oauth/jwt-grant.ts), whose lookups here answer
// from memory. Listens on 127.0.0.1:$PORT; reads its client from $BARE_CLIENT (JSON: client_id,
// client_secret, public_key_pem, user_id). Stops on SIGTERM/SIGINT.
import Provider from 'oidc-provider';
import { JWT_BEARER } from '../src/core/oauth/clients.ts';
import { jwtBearerGrant } from '../src/core/oauth/jwt-grant.ts';

const port = Number(process.env.PORT);
const client = JSON.parse(process.env.BARE_CLIENT ?? '{}') as {
  client_id: string;
  client_secret: string;
  public_key_pem: string;
  user_id: string;
};
const SCOPES = ['signature', 'impersonation'];

const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [
    {
      client_id: client.client_id,
      client_secret: client.client_secret,
      grant_types: ['client_credentials', JWT_BEARER],
      response_types: [],
      redirect_uris: [],
      scope: SCOPES.join(' '),
      signet_integration_id: 'bare',
      signet_organization_id: 'bare',
    },
  ],
  extraClientMetadata: { properties: ['signet_integration_id', 'signet_organization_id'] },
  scopes: SCOPES,
  features: { clientCredentials: { enabled: true }, devInteractions: { enabled: false } },
  routes: { token: '/oauth/token' },
  ttl: { ClientCredentials: 3600, AccessToken: 3600 },
});
provider.registerGrantType(
  JWT_BEARER,
  jwtBearerGrant({
    db: null as never, // only used for a `jti`, which the bench's assertions do not carry
    lookup: {
      jwtGrantFacts: async (_integration, userId) => ({
        keys: [{ kid: 'bare', pem: client.public_key_pem }],
        consented: SCOPES,
        userStatus: userId === client.user_id ? 'active' : undefined,
      }),
    },
    audience: `127.0.0.1:${port}`,
  }),
  ['assertion', 'scope'],
);

const server = provider.listen(port, '127.0.0.1');
const stop = () => server.close(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
