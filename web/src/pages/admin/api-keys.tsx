// API keys (docs/api-keys.md): create (the secret shown once, with a copy button), restrict to scopes,
// rotate with a chosen dual-run window (both keys listed, the old one with its expiry), revoke, and the
// owners' break-glass revoke-all behind a typed confirmation.
import { useState } from 'react';
import { del, get, type Page, post, qs } from '../../api.ts';
import { useSession } from '../../session.tsx';
import {
  Alert,
  Button,
  CheckboxSet,
  CopyButton,
  Field,
  Form,
  Loading,
  PageTitle,
  Select,
  Table,
  useAction,
  useLoad,
  when,
} from '../../ui.tsx';
import { AccountPicker, Pager, useAccountChoice, usePager } from './common.tsx';

interface ApiKey {
  id: string;
  name: string;
  prefix: string;
  last4: string;
  role: string;
  kind: string;
  scopes: string[] | null;
  account_id: string;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
  last_used_at: string | null;
  rotated_from: string | null;
}

const SCOPES = [
  'account:read',
  'account:write',
  'users:read',
  'users:write',
  'audit:read',
  'keys:read',
  'keys:write',
  'integrations:read',
  'integrations:write',
  'webhooks:read',
  'webhooks:write',
];
const WINDOWS = [
  { value: '0', label: 'Stop the old key now' },
  { value: '3600', label: '1 hour' },
  { value: '86400', label: '24 hours' },
  { value: '604800', label: '7 days' },
  { value: '2592000', label: '30 days' },
];
const CONFIRM = 'revoke all keys';

function Secret({ value, onDone }: { value: string; onDone: () => void }) {
  return (
    <div className="secret" role="status">
      <span>Your new key, shown only now:</span>
      <code data-testid="new-key">{value}</code>
      <CopyButton text={value} what="the new key" />
      <Button onClick={onDone}>I have stored it</Button>
    </div>
  );
}

export default function ApiKeysPage() {
  const { session, can } = useSession();
  const [accountId, setAccountId, accounts] = useAccountChoice();
  const pager = usePager();
  const list = useLoad(
    (signal) => get<Page<ApiKey>>(`/api/api_keys${qs({ limit: 50, cursor: pager.cursor })}`, signal),
    [pager.cursor],
  );
  const [name, setName] = useState('');
  const [role, setRole] = useState('admin');
  const [restrict, setRestrict] = useState(false);
  const [scopes, setScopes] = useState<Set<string>>(new Set(['users:read']));
  const [secret, setSecret] = useState<string | null>(null);
  const [rotating, setRotating] = useState<string | null>(null);
  const [windowS, setWindowS] = useState('86400');
  const [confirmText, setConfirmText] = useState('');
  const [reason, setReason] = useState('');
  const [notice, setNotice] = useState<string | null>(null);
  const create = useAction(async () => {
    const res = await post<ApiKey & { key: string }>('/api/api_keys', {
      name,
      role,
      account_id: accountId,
      scopes: restrict ? [...scopes] : null,
    });
    setSecret(res.key);
    setName('');
    list.reload();
  });
  const rotate = useAction(async (id: string) => {
    const res = await post<{ new_key: ApiKey & { key: string }; old_key: ApiKey }>(
      `/api/api_keys/${id}/rotate`,
      {
        expires_in_seconds: Number(windowS),
      },
    );
    setSecret(res.new_key.key);
    setRotating(null);
    setNotice(
      `Rotated. The old key ${res.old_key.prefix}…${res.old_key.last4} works until ${when(res.old_key.expires_at)}.`,
    );
    list.reload();
  });
  const revoke = useAction(async (k: ApiKey) => {
    await del(`/api/api_keys/${k.id}`);
    setNotice(`Revoked ${k.name} (…${k.last4}).`);
    list.reload();
  });
  const revokeAll = useAction(async () => {
    const res = await post<{ revoked: number } | null>('/api/api_keys/revoke_all', { reason });
    setNotice(
      `Every key of the organization is revoked${res && typeof res.revoked === 'number' ? ` (${res.revoked})` : ''}.`,
    );
    setConfirmText('');
    list.reload();
  });
  const roles = ['member', 'admin', 'owner'].filter((r) => session?.user.role === 'owner' || r !== 'owner');
  const keys = list.data?.data ?? [];
  const accountName = (id: string) => accounts.find((a) => a.id === id)?.name ?? id;
  return (
    <>
      <PageTitle>API keys</PageTitle>
      {secret && <Secret value={secret} onDone={() => setSecret(null)} />}
      {notice && <Alert>{notice}</Alert>}
      {can('keys:write') && (
        <div className="card">
          <h2>New key</h2>
          <Form onSubmit={create.run} label="New API key">
            <div className="row">
              <Field
                label="Name"
                value={name}
                onChange={(e) => setName(e.target.value)}
                required
                hint="What uses it, e.g. HR sync"
              />
              <AccountPicker value={accountId} onChange={setAccountId} accounts={accounts} />
              <Select
                label="Role"
                value={role}
                onChange={(e) => setRole(e.target.value)}
                options={roles.map((r) => ({ value: r, label: r }))}
              />
            </div>
            <div className="field">
              <label>
                <input type="checkbox" checked={restrict} onChange={(e) => setRestrict(e.target.checked)} />{' '}
                Restrict to scopes
              </label>
            </div>
            {restrict && (
              <CheckboxSet
                legend="Scopes"
                options={SCOPES.map((s) => [s, s] as const)}
                value={scopes}
                onChange={setScopes}
              />
            )}
            <Alert error={create.error} />
            <Button type="submit" kind="primary" busy={create.busy}>
              Create key
            </Button>
          </Form>
        </div>
      )}
      <Alert error={list.error || rotate.error || revoke.error} />
      {list.loading && !list.data ? (
        <Loading what="keys" />
      ) : (
        <Table
          label="API keys"
          columns={['Name', 'Key', 'Account · role', 'Scopes', 'Last used', 'Expires', 'Actions']}
        >
          {keys.map((k) => (
            <tr key={k.id}>
              <td>
                {k.name}
                {k.rotated_from && <small className="muted"> (rotation)</small>}
              </td>
              <td className="mono">
                {k.prefix}…{k.last4}
              </td>
              <td>
                {accountName(k.account_id)} · {k.role}
              </td>
              <td>{k.scopes ? k.scopes.join(', ') : 'all'}</td>
              <td>{when(k.last_used_at)}</td>
              <td>
                {k.revoked_at ? (
                  <span className="badge bad">revoked {when(k.revoked_at)}</span>
                ) : k.expires_at ? (
                  when(k.expires_at)
                ) : (
                  'never'
                )}
              </td>
              <td>
                {!k.revoked_at && can('keys:write') && (
                  <span className="row">
                    {rotating === k.id ? (
                      <>
                        <Select
                          label={`Old key ${k.name} keeps working for`}
                          value={windowS}
                          onChange={(e) => setWindowS(e.target.value)}
                          options={WINDOWS}
                        />
                        <Button kind="primary" busy={rotate.busy} onClick={() => void rotate.run(k.id)}>
                          Rotate now
                        </Button>
                        <Button onClick={() => setRotating(null)}>Cancel</Button>
                      </>
                    ) : (
                      <Button onClick={() => setRotating(k.id)} aria-label={`Rotate ${k.name} (…${k.last4})`}>
                        Rotate
                      </Button>
                    )}
                    <Button
                      kind="danger"
                      busy={revoke.busy}
                      onClick={() => void revoke.run(k)}
                      aria-label={`Revoke ${k.name} (…${k.last4})`}
                    >
                      Revoke
                    </Button>
                  </span>
                )}
              </td>
            </tr>
          ))}
        </Table>
      )}
      <Pager pager={pager} nextCursor={list.data?.next_cursor} what="keys" />
      {session?.user.role === 'owner' && (
        <div className="card">
          <h2>Break glass: revoke every key</h2>
          <p>
            Stops every API key of the organization at once, yours included. Programs using them stop working.
          </p>
          <Form onSubmit={revokeAll.run} label="Revoke every key">
            <Field
              label="Reason (kept in the audit log)"
              value={reason}
              onChange={(e) => setReason(e.target.value)}
              required
            />
            <Field
              label={`Type "${CONFIRM}" to confirm`}
              value={confirmText}
              onChange={(e) => setConfirmText(e.target.value)}
              autoComplete="off"
            />
            <Alert error={revokeAll.error} />
            <Button
              type="submit"
              kind="danger"
              disabled={confirmText !== CONFIRM || !reason.trim()}
              busy={revokeAll.busy}
            >
              Revoke every key
            </Button>
          </Form>
        </div>
      )}
    </>
  );
}
