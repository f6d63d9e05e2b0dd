// Choose the account to act in, for a person with active memberships in several (the Signet-Account header
// names it on every /api call, docs/people-and-sessions.md).
import { type Account, all, setActingAccount } from '../api.ts';
import { navigate } from '../router.tsx';
import { useSession } from '../session.tsx';
import { Alert, Button, Loading, PageTitle, useLoad } from '../ui.tsx';

export default function ChooseAccountPage() {
  const { session, refresh } = useSession();
  const accounts = useLoad(
    (signal) => all<Account>('/api/accounts', signal).catch(() => [] as Account[]),
    [],
  );
  if (!session) return null;
  const active = (session.user.memberships ?? []).filter((m) => m.status === 'active');
  const name = (id: string) => accounts.data?.find((a) => a.id === id)?.name ?? id;
  const choose = async (id: string) => {
    setActingAccount(id);
    await refresh();
    navigate('/', { replace: true });
  };
  return (
    <>
      <PageTitle>Choose an account</PageTitle>
      <p>
        You are a member of several accounts of {session.organization.name}. Which one do you want to work in?
      </p>
      <Alert error={accounts.error} />
      {accounts.loading ? (
        <Loading what="accounts" />
      ) : (
        <ul className="plain">
          {active.map((m) => (
            <li key={m.id}>
              <Button
                kind={session.account?.id === m.account_id ? 'primary' : ''}
                onClick={() => void choose(m.account_id)}
              >
                {name(m.account_id)}
                {session.account?.id === m.account_id ? ' (current)' : ''}
              </Button>
            </li>
          ))}
        </ul>
      )}
    </>
  );
}
