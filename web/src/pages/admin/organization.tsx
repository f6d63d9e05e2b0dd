// The organization and its accounts, with each account's seat use against its seat limit.
import { useState } from 'react';
import { get, type Organization, patch, post } from '../../api.ts';
import { useSearch } from '../../router.tsx';
import { useSession } from '../../session.tsx';
import { Alert, Button, Field, Form, Loading, PageTitle, Table, useAction, useLoad } from '../../ui.tsx';
import { useAccounts } from './common.tsx';

export default function OrganizationPage() {
  const { session, can } = useSession();
  const welcome = useSearch().get('welcome');
  const org = useLoad((signal) => get<Organization>('/api/organization', signal), []);
  const accounts = useAccounts();
  const [name, setName] = useState('');
  const [seats, setSeats] = useState<Record<string, string>>({});
  const create = useAction(async () => {
    await post('/api/accounts', { name }, { idempotent: true });
    setName('');
    accounts.reload();
  });
  const setLimit = useAction(async (id: string) => {
    const v = seats[id]?.trim() ?? '';
    await patch(`/api/accounts/${id}`, { seat_limit: v === '' ? null : Number(v) });
    accounts.reload();
  });
  return (
    <>
      <PageTitle>{org.data?.name ?? 'Organization'}</PageTitle>
      {welcome && session && !session.user.email_verified_at && (
        <Alert>Welcome! We mailed a link to {session.user.email}: follow it to verify your address.</Alert>
      )}
      <Alert error={org.error || accounts.error} />
      <h2>Accounts</h2>
      {accounts.loading && !accounts.data ? (
        <Loading what="accounts" />
      ) : (
        <Table label="Accounts" columns={['Account', 'Seats used', 'Seat limit', 'Use']}>
          {(accounts.data ?? []).map((a) => (
            <tr key={a.id}>
              <td>
                {a.name}
                <br />
                <small className="muted mono">{a.id}</small>
              </td>
              <td>{a.seats_used}</td>
              <td>
                {can('accounts:write') ? (
                  <Form onSubmit={() => setLimit.run(a.id)} label={`Seat limit of ${a.name}`} className="row">
                    <Field
                      label={`Seat limit of ${a.name}`}
                      type="number"
                      min={0}
                      placeholder="no limit"
                      value={seats[a.id] ?? (a.seat_limit === null ? '' : String(a.seat_limit))}
                      onChange={(e) => setSeats({ ...seats, [a.id]: e.target.value })}
                    />
                    <Button type="submit">Save</Button>
                  </Form>
                ) : (
                  (a.seat_limit ?? 'no limit')
                )}
              </td>
              <td>
                {a.seat_limit ? (
                  <progress
                    max={a.seat_limit}
                    value={a.seats_used}
                    aria-label={`${a.name}: ${a.seats_used} of ${a.seat_limit} seats`}
                  />
                ) : (
                  'unlimited'
                )}
              </td>
            </tr>
          ))}
        </Table>
      )}
      <Alert error={setLimit.error} />
      {can('accounts:write') && (
        <div className="card">
          <h2>New account</h2>
          <Form onSubmit={create.run} label="New account" className="row">
            <Field label="Account name" value={name} onChange={(e) => setName(e.target.value)} required />
            <Button type="submit" kind="primary" busy={create.busy}>
              Create account
            </Button>
          </Form>
          <Alert error={create.error} />
        </div>
      )}
    </>
  );
}
