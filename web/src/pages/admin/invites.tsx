// Invites: invite someone by email into an account with a role and profile (POST /api/invites), see who is
// pending, resend (a new link; the old stops working) or revoke.
import { useState } from 'react';
import { del, get, type Page, post, qs } from '../../api.ts';
import { useSession } from '../../session.tsx';
import {
  Alert,
  Button,
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
import { AccountPicker, Pager, useAccountChoice, usePager, useProfiles } from './common.tsx';

interface Invite {
  id: string;
  account_id: string;
  email: string;
  role: string;
  status: string;
  expires_at: string;
  created_at: string;
}

export default function InvitesPage() {
  const { session, can } = useSession();
  const [accountId, setAccountId, accounts] = useAccountChoice();
  const profiles = useProfiles(accountId);
  const [email, setEmail] = useState('');
  const [role, setRole] = useState('member');
  const [profile, setProfile] = useState('');
  const [status, setStatus] = useState('pending');
  const [sent, setSent] = useState<string | null>(null);
  const pager = usePager();
  const list = useLoad(
    (signal) => get<Page<Invite>>(`/api/invites${qs({ status, cursor: pager.cursor })}`, signal),
    [status, pager.cursor],
  );
  const invite = useAction(async () => {
    setSent(null);
    await post(
      '/api/invites',
      {
        email,
        role,
        account_id: accountId,
        ...(profile ? { permission_profile_id: Number(profile) } : {}),
      },
      { idempotent: true },
    );
    setSent(`Invitation mailed to ${email}. The link works for 7 days.`);
    setEmail('');
    list.reload();
  });
  const act = useAction(async (id: string, what: 'resend' | 'revoke') => {
    if (what === 'resend') await post(`/api/invites/${id}/resend`);
    else await del(`/api/invites/${id}`);
    list.reload();
  });
  const roles = ['member', 'admin', 'owner'].filter((r) => session?.user.role === 'owner' || r !== 'owner');
  const accountName = (id: string) => accounts.find((a) => a.id === id)?.name ?? id;
  return (
    <>
      <PageTitle>Invites</PageTitle>
      {can('users:write') && (
        <div className="card">
          <h2>Invite someone</h2>
          <Form onSubmit={invite.run} label="Invite someone" className="row">
            <Field
              label="Email"
              type="email"
              value={email}
              onChange={(e) => setEmail(e.target.value)}
              required
            />
            <AccountPicker value={accountId} onChange={setAccountId} accounts={accounts} />
            <Select
              label="Role"
              value={role}
              onChange={(e) => setRole(e.target.value)}
              options={roles.map((r) => ({ value: r, label: r }))}
            />
            <Select
              label="Permission profile"
              value={profile}
              onChange={(e) => setProfile(e.target.value)}
              options={[
                { value: '', label: 'Account default' },
                ...(profiles.data ?? []).map((p) => ({ value: String(p.id), label: p.name })),
              ]}
            />
            <Button type="submit" kind="primary" busy={invite.busy}>
              Send invitation
            </Button>
          </Form>
          <Alert error={invite.error} />
          {sent && <Alert>{sent}</Alert>}
        </div>
      )}
      <div className="row">
        <Select
          label="Show"
          value={status}
          onChange={(e) => {
            setStatus(e.target.value);
            pager.reset();
          }}
          options={['pending', 'accepted', 'revoked', 'expired'].map((s) => ({ value: s, label: s }))}
        />
      </div>
      <Alert error={list.error || act.error} />
      {list.loading && !list.data ? (
        <Loading what="invites" />
      ) : (
        <Table label="Invitations" columns={['Email', 'Account', 'Role', 'Status', 'Expires', 'Actions']}>
          {(list.data?.data ?? []).map((i) => (
            <tr key={i.id}>
              <td className="mono">{i.email}</td>
              <td>{accountName(i.account_id)}</td>
              <td>{i.role}</td>
              <td>{i.status}</td>
              <td>{when(i.expires_at)}</td>
              <td>
                {i.status === 'pending' && can('users:write') && (
                  <span className="row">
                    <Button
                      onClick={() => void act.run(i.id, 'resend')}
                      aria-label={`Resend the invitation to ${i.email}`}
                    >
                      Resend
                    </Button>
                    <Button
                      kind="danger"
                      onClick={() => void act.run(i.id, 'revoke')}
                      aria-label={`Revoke the invitation to ${i.email}`}
                    >
                      Revoke
                    </Button>
                  </span>
                )}
              </td>
            </tr>
          ))}
          {list.data?.data.length === 0 && (
            <tr>
              <td colSpan={6}>No {status} invitation.</td>
            </tr>
          )}
        </Table>
      )}
      <Pager pager={pager} nextCursor={list.data?.next_cursor} what="invites" />
    </>
  );
}
