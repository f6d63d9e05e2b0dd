// What several admin pages share: the organization's accounts, an account's profiles and groups, the account
// picker, and keyset paging (every /api list answers {data, next_cursor}).
import { useState } from 'react';
import { type Account, all } from '../../api.ts';
import { useSession } from '../../session.tsx';
import { Button, Select, useLoad } from '../../ui.tsx';

export interface Profile {
  id: number;
  account_id: string;
  name: string;
  description: string | null;
  permissions: string[];
  user_count: number;
}

export interface Group {
  id: number;
  account_id: string;
  name: string;
  description: string | null;
  type: string | null;
  permission_profile_id: number | null;
  member_count: number;
}

export function useAccounts() {
  return useLoad((signal) => all<Account>('/api/accounts', signal), []);
}

export function useProfiles(accountId: string | null) {
  return useLoad(
    (signal) =>
      accountId
        ? all<Profile>(`/api/accounts/${accountId}/permission_profiles`, signal)
        : Promise.resolve([]),
    [accountId],
  );
}

export function useGroups(accountId: string | null) {
  return useLoad(
    (signal) => (accountId ? all<Group>(`/api/accounts/${accountId}/groups`, signal) : Promise.resolve([])),
    [accountId],
  );
}

/** The account an account-scoped page works on: the session's, or another the person picks. */
export function useAccountChoice(): [string | null, (id: string) => void, Account[]] {
  const { session } = useSession();
  const accounts = useAccounts();
  const [chosen, setChosen] = useState<string | null>(null);
  const id = chosen ?? session?.account?.id ?? accounts.data?.[0]?.id ?? null;
  return [id, setChosen, accounts.data ?? []];
}

export function AccountPicker({
  value,
  onChange,
  accounts,
}: {
  value: string | null;
  onChange: (id: string) => void;
  accounts: Account[];
}) {
  if (accounts.length < 2) return null;
  return (
    <Select
      label="Account"
      value={value ?? ''}
      onChange={(e) => onChange(e.target.value)}
      options={accounts.map((a) => ({ value: a.id, label: a.name }))}
    />
  );
}

/** Keyset paging: the cursors of the pages before this one, so Previous works without offsets. */
export function usePager() {
  const [stack, setStack] = useState<Array<string | null>>([null]);
  const cursor = stack[stack.length - 1] ?? null;
  return {
    cursor,
    page: stack.length,
    next: (c: string) => setStack([...stack, c]),
    prev: () => setStack(stack.length > 1 ? stack.slice(0, -1) : stack),
    reset: () => setStack([null]),
  };
}

export function Pager({
  pager,
  nextCursor,
  what,
}: {
  pager: ReturnType<typeof usePager>;
  nextCursor: string | null | undefined;
  what: string;
}) {
  return (
    <nav className="row" aria-label={`Pages of ${what}`}>
      <Button onClick={pager.prev} disabled={pager.page <= 1}>
        Previous page
      </Button>
      <span>Page {pager.page}</span>
      <Button onClick={() => nextCursor && pager.next(nextCursor)} disabled={!nextCursor}>
        Next page
      </Button>
    </nav>
  );
}
