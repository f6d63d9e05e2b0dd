// Groups of an account and their members: create, delete, add a member by email, remove members.
import { useState } from 'react';
import { del, get, type Page, post, type User } from '../../api.ts';
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
import { AccountPicker, type Group, useAccountChoice, useGroups, useProfiles } from './common.tsx';

interface Member {
  user_id: string;
  email: string;
  first_name: string;
  last_name: string;
  added_at: string;
}

function Members({ accountId, group }: { accountId: string; group: Group }) {
  const { can } = useSession();
  const members = useLoad(
    (signal) => get<Page<Member>>(`/api/accounts/${accountId}/groups/${group.id}/members?limit=100`, signal),
    [group.id],
  );
  const [email, setEmail] = useState('');
  const add = useAction(async () => {
    const found = await get<Page<User>>(`/api/users?email=${encodeURIComponent(email.trim())}`);
    const user = found.data[0];
    if (!user) throw new Error(`No user has the address ${email}.`);
    await post(`/api/accounts/${accountId}/groups/${group.id}/members`, { user_ids: [user.id] });
    setEmail('');
    members.reload();
  });
  const remove = useAction(async (id: string) => {
    await del(`/api/accounts/${accountId}/groups/${group.id}/members`, { user_ids: [id] });
    members.reload();
  });
  const writer = can('groups:write') && group.type !== 'everyone';
  return (
    <div className="card">
      <h2>Members of {group.name}</h2>
      {writer && (
        <Form onSubmit={add.run} label={`Add a member to ${group.name}`} className="row">
          <Field
            label="Member's email"
            type="email"
            value={email}
            onChange={(e) => setEmail(e.target.value)}
            required
          />
          <Button type="submit" busy={add.busy}>
            Add member
          </Button>
        </Form>
      )}
      <Alert error={members.error || add.error || remove.error} />
      <ul>
        {(members.data?.data ?? []).map((m) => (
          <li key={m.user_id}>
            {m.first_name} {m.last_name} <span className="mono">{m.email}</span>{' '}
            <small className="muted">since {when(m.added_at)}</small>{' '}
            {writer && (
              <Button
                onClick={() => void remove.run(m.user_id)}
                aria-label={`Remove ${m.email} from ${group.name}`}
              >
                Remove
              </Button>
            )}
          </li>
        ))}
      </ul>
    </div>
  );
}

export default function GroupsPage() {
  const { can } = useSession();
  const [accountId, setAccountId, accounts] = useAccountChoice();
  const groups = useGroups(accountId);
  const profiles = useProfiles(accountId);
  const [open, setOpen] = useState<number | null>(null);
  const [name, setName] = useState('');
  const [profile, setProfile] = useState('');
  const create = useAction(async () => {
    await post(`/api/accounts/${accountId}/groups`, {
      name,
      permission_profile_id: profile ? Number(profile) : null,
    });
    setName('');
    groups.reload();
  });
  const remove = useAction(async (g: Group) => {
    await del(`/api/accounts/${accountId}/groups/${g.id}`);
    groups.reload();
  });
  const openGroup = groups.data?.find((g) => g.id === open);
  return (
    <>
      <PageTitle>Groups</PageTitle>
      <AccountPicker value={accountId} onChange={setAccountId} accounts={accounts} />
      {can('groups:write') && (
        <Form onSubmit={create.run} label="New group" className="row card">
          <Field label="Group name" value={name} onChange={(e) => setName(e.target.value)} required />
          <Select
            label="Profile (optional)"
            value={profile}
            onChange={(e) => setProfile(e.target.value)}
            options={[
              { value: '', label: 'None' },
              ...(profiles.data ?? []).map((p) => ({ value: String(p.id), label: p.name })),
            ]}
          />
          <Button type="submit" kind="primary" busy={create.busy}>
            Create group
          </Button>
        </Form>
      )}
      <Alert error={groups.error || create.error || remove.error} />
      {groups.loading && !groups.data ? (
        <Loading what="groups" />
      ) : (
        <Table label="Groups" columns={['Group', 'Members', 'Actions']}>
          {(groups.data ?? []).map((g) => (
            <tr key={g.id}>
              <td>
                {g.name} {g.type && g.type !== 'custom' && <span className="badge">{g.type}</span>}
              </td>
              <td>{g.member_count}</td>
              <td className="row">
                <Button
                  onClick={() => setOpen(open === g.id ? null : g.id)}
                  aria-expanded={open === g.id}
                  aria-label={`Members of ${g.name}`}
                >
                  Members
                </Button>
                {can('groups:write') && (!g.type || g.type === 'custom') && (
                  <Button kind="danger" onClick={() => void remove.run(g)} aria-label={`Delete ${g.name}`}>
                    Delete
                  </Button>
                )}
              </td>
            </tr>
          ))}
        </Table>
      )}
      {openGroup && accountId && <Members key={openGroup.id} accountId={accountId} group={openGroup} />}
    </>
  );
}
