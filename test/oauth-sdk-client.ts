// A customer's script, run by test/oauth-sdk.test.ts in its own process so that NODE_EXTRA_CA_CERTS (set when
// the process starts, as docs/oauth.md tells users) makes it trust Signet's self-signed certificate. It does
// what DocuSign's own examples do with the official docusign-admin SDK: point the SDK's OAuth helpers at
// Signet, obtain a token with the JWT grant (requestJWTUserToken), read getUserInfo, then call the Admin
// API with the token: users, DS groups, a bulk import. It prints one JSON object with what it saw.
import admin from 'docusign-admin';

// The SDK is untyped, and used here as an untyped customer script uses it.
type Sdk = any;

const input = JSON.parse(process.argv[2]!) as {
  base: string;
  clientId: string;
  userId: string;
  /** A user who never consented: the grant must answer consent_required. */
  strangerId: string;
  privateKey: string;
  orgId: string;
  accountId: string;
  csv: string;
};

/** The SDK's rejections are {statusCode, header, body}; keep what a script would look at. */
function failure(err: unknown): { statusCode?: number; body?: unknown } {
  const e = err as { statusCode?: number; body?: unknown } | null;
  return { statusCode: e?.statusCode, body: e?.body };
}

async function main(): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const client: Sdk = new (admin as Sdk).ApiClient();
  // setBasePath() re-derives the OAuth host, so the OAuth host is set after it (docusign-admin-api.md §6.4).
  client.setBasePath(`${input.base}/management`);
  client.setOAuthBasePath(new URL(input.base).host);
  const scopes = ['signature', 'impersonation', 'organization_read', 'user_read', 'user_write', 'group_read'];

  const refused = await client
    .requestJWTUserToken(input.clientId, input.strangerId, scopes, Buffer.from(input.privateKey), 3600)
    .then(() => null, failure);
  out.consentRequired = refused;

  const granted = await client.requestJWTUserToken(
    input.clientId,
    input.userId,
    scopes,
    Buffer.from(input.privateKey),
    3600,
  );
  const token = granted.body.access_token as string;
  out.token = {
    status: granted.statusCode,
    expires_in: granted.body.expires_in,
    refresh: granted.body.refresh_token ?? null,
  };

  // The promise form never settles on an HTTP error; the callback form is what scripts use.
  const info: Sdk = await new Promise((resolve, reject) =>
    client.getUserInfo(token, (err: unknown, data: unknown) => (err ? reject(failure(err)) : resolve(data))),
  );
  out.userInfo = {
    sub: info.sub,
    email: info.email,
    accounts: info.accounts.map((a: Sdk) => ({
      accountId: a.accountId,
      isDefault: a.isDefault,
      accountName: a.accountName,
      baseUri: a.baseUri,
      organizationId: a.organization?.organization_id,
    })),
  };

  // The Admin API, with the token in this client's own authentication.
  client.authentications.docusignAccessCode.accessToken = token;
  const users = await new (admin as Sdk).UsersApi(client).getUsers(input.orgId, {
    accountId: input.accountId,
    take: 20,
  });
  out.users = users.users.map((u: Sdk) => u.email);
  const created = await new (admin as Sdk).UsersApi(client).createUser(
    {
      user_name: 'Ada Lovelace',
      first_name: 'Ada',
      last_name: 'Lovelace',
      email: `ada-${Date.now()}@example.test`,
      accounts: [{ id: input.accountId }],
    },
    input.orgId,
  );
  out.createdUser = { id: created.id, email: created.email };
  const groups = new (admin as Sdk).DSGroupsApi(client);
  const group = await groups.addDSGroup({ group_name: 'OAuth group' }, input.orgId, input.accountId);
  const listed = await groups.getDSGroups(input.orgId, input.accountId, { page: 1, pageSize: 50 });
  out.groups = { created: group.group_name, listed: listed.ds_groups.map((g: Sdk) => g.group_name) };

  const bulk = new (admin as Sdk).BulkImportsApi(client);
  const imported = await bulk.createBulkImportAddUsersRequest(input.orgId, Buffer.from(input.csv));
  let status = imported.status as string;
  for (let i = 0; i < 300 && status !== 'completed' && status !== 'failed'; i++) {
    await new Promise((r) => setTimeout(r, 100));
    status = (await bulk.getBulkUserImportRequest(input.orgId, imported.id)).status;
  }
  out.import = { id: imported.id, status };
  return out;
}

main().then(
  (out) => {
    process.stdout.write(JSON.stringify(out));
  },
  (err) => {
    process.stdout.write(
      JSON.stringify({ error: failure(err), message: String((err as Error)?.message ?? err) }),
    );
  },
);
