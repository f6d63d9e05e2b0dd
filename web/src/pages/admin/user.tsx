// One user: details, memberships (account, status, profile, groups), and what an admin does to a person:
// deactivate/reactivate, mail a password reset or an activation link, reset their two-step verification.
import { useState } from 'react';
import { del, get, type Membership, patch, post, type User } from '../../api.ts';
import { usePath } from '../../router.tsx';
import { useSession } from '../../session.tsx';
import { Alert, Button, Loading, PageTitle, Select, Table, useAction, useLoad, when } from '../../ui.tsx';
import { useAccounts, useGroups, useProfiles } from './common.tsx';

function MembershipRow({
  userId,
  m,
  accountName,
  onChange,
}: {
  userId: string;
  m: Membership;
  accountName: string;
  onChange: () => void;
}) {
  const profiles = useProfiles(m.account_id);
  const groups = useGroups(m.account_id);
  const { can } = useSession();
  const change = useAction(async (body: Record<string, unknown>) => {
    await patch(`/api/users/${userId}/memberships/${m.id}`, body);
    onChange();
  });
  const groupNames = m.group_ids
    .map((id) => groups.data?.find((g) => g.id === id)?.name ?? `#${id}`)
    .join(', ');
  return (
    <tr>
      <td>{accountName}</td>
      <td>{m.status}</td>
      <td>
        {can('users:write') ? (
          <Select
            label={`Profile in ${accountName}`}
            value={String(m.permission_profile_id ?? '')}
            onChange={(e) => void change.run({ permission_profile_id: Number(e.target.value) })}
            options={[
              { value: '', label: '—' },
              ...(profiles.data ?? []).map((p) => ({ value: String(p.id), label: p.name })),
            ]}
          />
        ) : (
          (profiles.data?.find((p) => p.id === m.permission_profile_id)?.name ?? '—')
        )}
        <Alert error={change.error} />
      </td>
      <td>{groupNames || '—'}</td>
      <td>{when(m.created_at)}</td>
    </tr>
  );
}

export default function UserPage() {
  const id = usePath().split('/').pop()!;
  const { can } = useSession();
  const accounts = useAccounts();
  const user = useLoad((signal) => get<User>(`/api/users/${id}`, signal), [id]);
  const memberships = useLoad(
    (signal) => get<{ data: Membership[] }>(`/api/users/${id}/memberships`, signal),
    [id],
  );
  const [done, setDone] = useState<string | null>(null);
  const act = useAction(async (what: string) => {
    if (what === 'deactivate') await post(`/api/users/${id}/deactivate`);
    if (what === 'reactivate') await post(`/api/users/${id}/reactivate`);
    if (what === 'reset') await post(`/api/users/${id}/password_reset`);
    if (what === 'activation') await post('/api/users/activation_mails', { user_ids: [id] });
    if (what === 'mfa') await del(`/api/users/${id}/mfa`);
    setDone(what);
    user.reload();
    memberships.reload();
  });
  const messages: Record<string, string> = {
    deactivate: 'Deactivated: their seats are free and their sessions ended.',
    reactivate: 'Reactivated.',
    reset: 'A password reset link is on its way to them (valid 30 minutes).',
    activation: 'An activation mail is on its way to them.',
    mfa: 'Their two-step verification is reset: they set it up again at their next sign-in.',
  };
  if (user.loading && !user.data) return <Loading what="the user" />;
  const u = user.data;
  if (!u) return <Alert error={user.error} />;
  const accountName = (aid: string) => accounts.data?.find((a) => a.id === aid)?.name ?? aid;
  return (
    <>
      <PageTitle>{`${u.first_name} ${u.last_name}`}</PageTitle>
      <div className="card">
        <dl>
          <dt>Email</dt>
          <dd className="mono">
            {u.email} {u.pending_email && <>(changing to {u.pending_email})</>}
          </dd>
          <dt>Role</dt>
          <dd>{u.role}</dd>
          <dt>Status</dt>
          <dd>{u.status}</dd>
          <dt>Job</dt>
          <dd>{[u.job_title, u.department, u.company].filter(Boolean).join(' · ') || '—'}</dd>
          <dt>Created</dt>
          <dd>{when(u.created_at)}</dd>
        </dl>
        {can('users:write') && (
          <div className="row">
            {u.status === 'active' ? (
              <Button kind="danger" busy={act.busy} onClick={() => void act.run('deactivate')}>
                Deactivate
              </Button>
            ) : (
              <Button busy={act.busy} onClick={() => void act.run('reactivate')}>
                Reactivate
              </Button>
            )}
            <Button busy={act.busy} onClick={() => void act.run('reset')}>
              Mail a password reset
            </Button>
            <Button busy={act.busy} onClick={() => void act.run('activation')}>
              Send activation mail
            </Button>
            <Button busy={act.busy} onClick={() => void act.run('mfa')}>
              Reset two-step verification
            </Button>
          </div>
        )}
        <Alert error={act.error} />
        {done && <Alert>{messages[done]}</Alert>}
      </div>
      <h2>Memberships</h2>
      <Alert error={memberships.error} />
      <Table label="Memberships" columns={['Account', 'Status', 'Permission profile', 'Groups', 'Since']}>
        {(memberships.data?.data ?? []).map((m) => (
          <MembershipRow
            key={m.id}
            userId={u.id}
            m={m}
            accountName={accountName(m.account_id)}
            onChange={memberships.reload}
          />
        ))}
      </Table>
    </>
  );
}
