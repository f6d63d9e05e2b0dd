// HR mapping rules (docs/mapping-rules.md): from job title, department and company to a profile and groups,
// first match wins; and the tester: what a person with these attributes would get.
import { useState } from 'react';
import { del, get, patch, post } from '../../api.ts';
import { useSession } from '../../session.tsx';
import { Alert, Button, Field, Form, PageTitle, Select, Table, useAction, useLoad } from '../../ui.tsx';
import { AccountPicker, useAccountChoice, useGroups, useProfiles } from './common.tsx';

interface Rule {
  id: string;
  position: number;
  name: string;
  conditions: Record<string, { equals?: string; matches?: string }>;
  permission_profile_id: number;
  group_ids: number[];
  enabled: boolean;
}

const FIELDS: Array<[string, string]> = [
  ['job_title', 'Job title'],
  ['department', 'Department'],
  ['company', 'Company'],
];

export default function MappingRulesPage() {
  const { can } = useSession();
  const [accountId, setAccountId, accounts] = useAccountChoice();
  const profiles = useProfiles(accountId);
  const groups = useGroups(accountId);
  const rules = useLoad(
    (signal) =>
      accountId
        ? get<{ data: Rule[] }>(`/api/accounts/${accountId}/mapping_rules`, signal)
        : Promise.resolve({ data: [] }),
    [accountId],
  );
  const [name, setName] = useState('');
  const [cond, setCond] = useState<Record<string, string>>({});
  const [profile, setProfile] = useState('');
  const [group, setGroup] = useState('');
  const create = useAction(async () => {
    const conditions = Object.fromEntries(
      Object.entries(cond)
        .filter(([, v]) => v.trim())
        .map(([k, v]) => [k, { equals: v.trim() }]),
    );
    await post(`/api/accounts/${accountId}/mapping_rules`, {
      name,
      conditions,
      permission_profile_id: Number(profile),
      group_ids: group ? [Number(group)] : [],
      enabled: true,
    });
    setName('');
    setCond({});
    rules.reload();
  });
  const toggle = useAction(async (r: Rule) => {
    await patch(`/api/accounts/${accountId}/mapping_rules/${r.id}`, { enabled: !r.enabled });
    rules.reload();
  });
  const remove = useAction(async (r: Rule) => {
    await del(`/api/accounts/${accountId}/mapping_rules/${r.id}`);
    rules.reload();
  });
  const [probe, setProbe] = useState<Record<string, string>>({});
  const [result, setResult] = useState<string | null>(null);
  const test = useAction(async () => {
    const res = await post<{
      matched: boolean;
      rule: Rule | null;
      permission_profile: { name: string } | null;
      group_ids: number[];
      source: string;
    }>('/api/mapping_rules/test', {
      account_id: accountId,
      job_title: probe.job_title || null,
      department: probe.department || null,
      company: probe.company || null,
    });
    const groupNames = res.group_ids
      .map((id) => groups.data?.find((g) => g.id === id)?.name ?? `#${id}`)
      .join(', ');
    setResult(
      res.matched
        ? `Rule "${res.rule?.name}" matches: profile ${res.permission_profile?.name ?? '—'}, groups ${groupNames || '—'}.`
        : `No rule matches (${res.source}): profile ${res.permission_profile?.name ?? 'none'}.`,
    );
  });
  const profileName = (id: number) => profiles.data?.find((p) => p.id === id)?.name ?? `#${id}`;
  const writer = can('settings:write');
  return (
    <>
      <PageTitle>Mapping rules</PageTitle>
      <AccountPicker value={accountId} onChange={setAccountId} accounts={accounts} />
      <Alert error={rules.error || toggle.error || remove.error} />
      <Table label="Mapping rules, first match wins" columns={['#', 'Rule', 'When', 'Gives', 'Actions']}>
        {(rules.data?.data ?? []).map((r) => (
          <tr key={r.id}>
            <td>{r.position}</td>
            <td>
              {r.name} {!r.enabled && <span className="badge">off</span>}
            </td>
            <td>
              {Object.entries(r.conditions)
                .map(([k, c]) => `${k} ${c.equals !== undefined ? `= "${c.equals}"` : `~ /${c.matches}/`}`)
                .join(' and ') || 'always'}
            </td>
            <td>{profileName(r.permission_profile_id)}</td>
            <td className="row">
              {writer && (
                <>
                  <Button
                    onClick={() => void toggle.run(r)}
                    aria-label={`${r.enabled ? 'Turn off' : 'Turn on'} ${r.name}`}
                  >
                    {r.enabled ? 'Turn off' : 'Turn on'}
                  </Button>
                  <Button kind="danger" onClick={() => void remove.run(r)} aria-label={`Delete ${r.name}`}>
                    Delete
                  </Button>
                </>
              )}
            </td>
          </tr>
        ))}
      </Table>
      {writer && (
        <div className="card">
          <h2>New rule</h2>
          <Form onSubmit={create.run} label="New mapping rule">
            <div className="row">
              <Field label="Rule name" value={name} onChange={(e) => setName(e.target.value)} required />
              {FIELDS.map(([k, label]) => (
                <Field
                  key={k}
                  label={`${label} is`}
                  value={cond[k] ?? ''}
                  onChange={(e) => setCond({ ...cond, [k]: e.target.value })}
                />
              ))}
              <Select
                label="Profile"
                value={profile}
                onChange={(e) => setProfile(e.target.value)}
                options={[
                  { value: '', label: 'Choose…' },
                  ...(profiles.data ?? []).map((p) => ({ value: String(p.id), label: p.name })),
                ]}
              />
              <Select
                label="Group"
                value={group}
                onChange={(e) => setGroup(e.target.value)}
                options={[
                  { value: '', label: 'None' },
                  ...(groups.data ?? [])
                    .filter((g) => !g.type || g.type === 'custom')
                    .map((g) => ({ value: String(g.id), label: g.name })),
                ]}
              />
            </div>
            <Alert error={create.error} />
            <Button type="submit" kind="primary" busy={create.busy} disabled={!profile}>
              Add rule
            </Button>
          </Form>
        </div>
      )}
      <div className="card">
        <h2>Try the rules</h2>
        <Form onSubmit={test.run} label="Try the rules" className="row">
          {FIELDS.map(([k, label]) => (
            <Field
              key={k}
              label={label}
              value={probe[k] ?? ''}
              onChange={(e) => setProbe({ ...probe, [k]: e.target.value })}
            />
          ))}
          <Button type="submit" busy={test.busy}>
            Test
          </Button>
        </Form>
        <Alert error={test.error} />
        {result && <Alert>{result}</Alert>}
      </div>
    </>
  );
}
