// Claimed email domains: claim, the DNS TXT record that proves it, verify, release.
import { useState } from 'react';
import { del, get, post } from '../../api.ts';
import { useSession } from '../../session.tsx';
import {
  Alert,
  Button,
  Check,
  Field,
  Form,
  PageTitle,
  Select,
  Table,
  useAction,
  useLoad,
  when,
} from '../../ui.tsx';
import { useAccountChoice } from './common.tsx';

interface Domain {
  id: string;
  domain: string;
  auto_join: boolean;
  account_id: string;
  verified_at: string | null;
  verification: { type: string; name: string; value: string };
}

export default function DomainsPage() {
  const { session, can } = useSession();
  const org = session?.organization.id;
  const [accountId, setAccountId, accounts] = useAccountChoice();
  const list = useLoad(
    (signal) => get<{ data: Domain[] }>(`/api/organizations/${org}/domains`, signal),
    [org],
  );
  const [domain, setDomain] = useState('');
  const [autoJoin, setAutoJoin] = useState(false);
  const claim = useAction(async () => {
    await post(`/api/organizations/${org}/domains`, { domain, auto_join: autoJoin, account_id: accountId });
    setDomain('');
    list.reload();
  });
  const verify = useAction(async (d: Domain) => {
    await post(`/api/organizations/${org}/domains/${d.id}/verify`);
    list.reload();
  });
  const release = useAction(async (d: Domain) => {
    await del(`/api/organizations/${org}/domains/${d.id}`);
    list.reload();
  });
  const writer = can('org:write');
  return (
    <>
      <PageTitle>Claimed domains</PageTitle>
      <p>
        A verified domain with auto-join makes people who sign up with an address there members of the chosen
        account.
      </p>
      {writer && (
        <Form onSubmit={claim.run} label="Claim a domain" className="row card">
          <Field
            label="Domain"
            placeholder="example.com"
            value={domain}
            onChange={(e) => setDomain(e.target.value)}
            required
          />
          <Select
            label="Account people join"
            value={accountId ?? ''}
            onChange={(e) => setAccountId(e.target.value)}
            options={accounts.map((a) => ({ value: a.id, label: a.name }))}
          />
          <Check checked={autoJoin} onChange={setAutoJoin}>
            Auto-join
          </Check>
          <Button type="submit" kind="primary" busy={claim.busy}>
            Claim domain
          </Button>
        </Form>
      )}
      <Alert error={list.error || claim.error || verify.error || release.error} />
      <Table label="Claimed domains" columns={['Domain', 'State', 'DNS record that proves it', 'Actions']}>
        {(list.data?.data ?? []).map((d) => (
          <tr key={d.id}>
            <td>
              {d.domain} {d.auto_join && <span className="badge">auto-join</span>}
            </td>
            <td>
              {d.verified_at ? (
                <span className="badge ok">verified {when(d.verified_at)}</span>
              ) : (
                <span className="badge bad">not verified</span>
              )}
            </td>
            <td className="mono">
              {d.verification.type} {d.verification.name}
              <br />
              {d.verification.value}
            </td>
            <td className="row">
              {writer && (
                <>
                  <Button
                    onClick={() => void verify.run(d)}
                    busy={verify.busy}
                    aria-label={`Verify ${d.domain} now`}
                  >
                    Verify
                  </Button>
                  <Button
                    kind="danger"
                    onClick={() => void release.run(d)}
                    aria-label={`Release ${d.domain}`}
                  >
                    Release
                  </Button>
                </>
              )}
            </td>
          </tr>
        ))}
      </Table>
    </>
  );
}
