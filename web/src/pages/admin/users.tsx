// Users: search (debounced; each new search aborts the request before it), filters by status, account,
// profile and group, keyset paging, and bulk actions on the selected rows.
import { useEffect, useState } from 'react';
import { get, type Page, patch, post, qs, type User } from '../../api.ts';
import { Link } from '../../router.tsx';
import { useSession } from '../../session.tsx';
import {
  Alert,
  Button,
  Field,
  Loading,
  PageTitle,
  Select,
  TableWrap,
  useAction,
  useLoad,
} from '../../ui.tsx';
import { Pager, useAccounts, useGroups, usePager, useProfiles } from './common.tsx';

function useDebounced<T>(value: T, ms: number): T {
  const [v, setV] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setV(value), ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return v;
}

export default function UsersPage() {
  const { session, can } = useSession();
  const accounts = useAccounts();
  const [q, setQ] = useState('');
  const [status, setStatus] = useState('');
  const [accountId, setAccountId] = useState('');
  const [profileId, setProfileId] = useState('');
  const [groupId, setGroupId] = useState('');
  const query = useDebounced(q.trim(), 250);
  const pager = usePager();
  const scope = accountId || session?.account?.id || null;
  const profiles = useProfiles(scope);
  const groups = useGroups(scope);
  // A filter change starts again from the first page.
  // biome-ignore lint/correctness/useExhaustiveDependencies: reset on filter change only
  useEffect(() => pager.reset(), [query, status, accountId, profileId, groupId]);
  const list = useLoad(
    (signal) =>
      get<Page<User>>(
        `/api/users${qs({
          q: query,
          status,
          account_id: accountId || (profileId || groupId ? scope : ''),
          permission_profile_id: profileId,
          group_id: groupId,
          limit: 50,
          cursor: pager.cursor,
        })}`,
        signal,
      ),
    [query, status, accountId, profileId, groupId, pager.cursor],
  );
  const [selected, setSelected] = useState<Set<string>>(new Set());
  // A new page of rows clears the selection (the rows it named are gone).
  // biome-ignore lint/correctness/useExhaustiveDependencies: runs when the rows change
  useEffect(() => setSelected(new Set()), [list.data]);
  const rows = list.data?.data ?? [];
  // After React has committed the rows (their handlers attached): bench/dashboard.ts reads this mark.
  useEffect(() => {
    if (list.data) performance.mark('signet:users-rendered');
  }, [list.data]);
  const toggle = (id: string) => {
    const s = new Set(selected);
    if (s.has(id)) s.delete(id);
    else s.add(id);
    setSelected(s);
  };
  const [bulkProfile, setBulkProfile] = useState('');
  const [bulkGroup, setBulkGroup] = useState('');
  const [outcome, setOutcome] = useState<string | null>(null);
  const bulk = useAction(async (action: string) => {
    const ids = [...selected];
    setOutcome(null);
    let done = 0;
    const failures: string[] = [];
    const each = async (fn: (u: User) => Promise<unknown>) => {
      for (const u of rows.filter((r) => selected.has(r.id))) {
        try {
          await fn(u);
          done++;
        } catch (err) {
          failures.push(`${u.email}: ${(err as Error).message}`);
        }
      }
    };
    if (action === 'deactivate') await each((u) => post(`/api/users/${u.id}/deactivate`));
    if (action === 'reactivate') await each((u) => post(`/api/users/${u.id}/reactivate`));
    if (action === 'profile') {
      await each(async (u) => {
        const m = u.memberships?.find((x) => x.account_id === scope && x.status !== 'closed');
        if (!m) throw new Error('no open membership in this account');
        await patch(`/api/users/${u.id}/memberships/${m.id}`, { permission_profile_id: Number(bulkProfile) });
      });
    }
    if (action === 'group') {
      await post(`/api/accounts/${scope}/groups/${bulkGroup}/members`, { user_ids: ids });
      done = ids.length;
    }
    if (action === 'activation') {
      // {sent, skipped: [{user_id, reason}]}: a user who has a password already needs no activation.
      const res = await post<{ sent: string[]; skipped: Array<{ user_id: string; reason: string }> }>(
        '/api/users/activation_mails',
        { user_ids: ids },
      );
      done = res.sent.length;
      for (const s of res.skipped) {
        failures.push(
          `${rows.find((r) => r.id === s.user_id)?.email ?? s.user_id}: ${s.reason.replace(/_/g, ' ')}`,
        );
      }
    }
    setOutcome(`${done} of ${ids.length} done.${failures.length ? ` Not done: ${failures.join('; ')}` : ''}`);
    list.reload();
  });
  const profileName = (id: number | null) => profiles.data?.find((p) => p.id === id)?.name ?? '—';
  const writer = can('users:write');
  return (
    <>
      <PageTitle>Users</PageTitle>
      <search className="row">
        <Field label="Search name or email" type="search" value={q} onChange={(e) => setQ(e.target.value)} />
        <Select
          label="Status"
          value={status}
          onChange={(e) => setStatus(e.target.value)}
          options={[
            { value: '', label: 'Any' },
            { value: 'active', label: 'Active' },
            { value: 'deactivated', label: 'Deactivated' },
          ]}
        />
        <Select
          label="Account"
          value={accountId}
          onChange={(e) => {
            setAccountId(e.target.value);
            setProfileId('');
            setGroupId('');
          }}
          options={[
            { value: '', label: 'All accounts' },
            ...(accounts.data ?? []).map((a) => ({ value: a.id, label: a.name })),
          ]}
        />
        <Select
          label="Profile"
          value={profileId}
          onChange={(e) => setProfileId(e.target.value)}
          options={[
            { value: '', label: 'Any' },
            ...(profiles.data ?? []).map((p) => ({ value: String(p.id), label: p.name })),
          ]}
        />
        <Select
          label="Group"
          value={groupId}
          onChange={(e) => setGroupId(e.target.value)}
          options={[
            { value: '', label: 'Any' },
            ...(groups.data ?? []).map((g) => ({ value: String(g.id), label: g.name })),
          ]}
        />
      </search>
      {writer && (
        <fieldset className="row card" disabled={selected.size === 0 || bulk.busy}>
          <legend>{selected.size} selected</legend>
          <Button onClick={() => void bulk.run('deactivate')}>Deactivate</Button>
          <Button onClick={() => void bulk.run('reactivate')}>Reactivate</Button>
          <Button onClick={() => void bulk.run('activation')}>Resend activation</Button>
          <Select
            label="Profile to assign"
            value={bulkProfile}
            onChange={(e) => setBulkProfile(e.target.value)}
            options={[
              { value: '', label: 'Choose…' },
              ...(profiles.data ?? []).map((p) => ({ value: String(p.id), label: p.name })),
            ]}
          />
          <Button onClick={() => void bulk.run('profile')} disabled={!bulkProfile}>
            Assign profile
          </Button>
          <Select
            label="Group to add to"
            value={bulkGroup}
            onChange={(e) => setBulkGroup(e.target.value)}
            options={[
              { value: '', label: 'Choose…' },
              ...(groups.data ?? [])
                .filter((g) => g.type !== 'everyone')
                .map((g) => ({ value: String(g.id), label: g.name })),
            ]}
          />
          <Button onClick={() => void bulk.run('group')} disabled={!bulkGroup}>
            Add to group
          </Button>
        </fieldset>
      )}
      <Alert error={list.error || bulk.error} />
      {outcome && <Alert>{outcome}</Alert>}
      {list.loading && !list.data ? (
        <Loading what="users" />
      ) : (
        <TableWrap label="Users">
          <table aria-busy={list.loading || undefined}>
            <caption className="muted">{rows.length} users on this page</caption>
            <thead>
              <tr>
                {writer && (
                  <th scope="col">
                    <input
                      type="checkbox"
                      aria-label="Select every user on this page"
                      checked={rows.length > 0 && selected.size === rows.length}
                      onChange={(e) =>
                        setSelected(e.target.checked ? new Set(rows.map((r) => r.id)) : new Set())
                      }
                    />
                  </th>
                )}
                <th scope="col">Name</th>
                <th scope="col">Email</th>
                <th scope="col">Role</th>
                <th scope="col">Status</th>
                <th scope="col">Profile here</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((u) => {
                const m = u.memberships?.find((x) => x.account_id === scope);
                return (
                  <tr key={u.id}>
                    {writer && (
                      <td>
                        <input
                          type="checkbox"
                          aria-label={`Select ${u.email}`}
                          checked={selected.has(u.id)}
                          onChange={() => toggle(u.id)}
                        />
                      </td>
                    )}
                    <td>
                      <Link href={`/admin/users/${u.id}`}>
                        {u.first_name} {u.last_name}
                      </Link>
                    </td>
                    <td className="mono">{u.email}</td>
                    <td>{u.role}</td>
                    <td>
                      <span className={u.status === 'active' ? 'badge ok' : 'badge bad'}>{u.status}</span>
                      {m && m.status !== 'active' && <span className="badge"> membership {m.status}</span>}
                    </td>
                    <td>{profileName(m?.permission_profile_id ?? null)}</td>
                  </tr>
                );
              })}
              {rows.length === 0 && (
                <tr>
                  <td colSpan={6}>No user matches.</td>
                </tr>
              )}
            </tbody>
          </table>
        </TableWrap>
      )}
      <Pager pager={pager} nextCursor={list.data?.next_cursor} what="users" />
    </>
  );
}
