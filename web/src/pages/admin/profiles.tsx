// Permission profiles of an account: what each grants, as named checkboxes (the profile permissions of
// docs/concepts.md), with how many users hold it; create, change, delete.
import { useState } from 'react';
import { del, patch, post } from '../../api.ts';
import { useSession } from '../../session.tsx';
import { Alert, Button, CheckboxSet, Field, Form, Loading, PageTitle, Table, useAction } from '../../ui.tsx';
import { AccountPicker, type Profile, useAccountChoice, useProfiles } from './common.tsx';

const PERMISSIONS: Array<[string, string]> = [
  ['send_envelopes', 'Send envelopes'],
  ['manage_users', 'Manage users'],
  ['manage_groups', 'Manage groups'],
  ['manage_permission_profiles', 'Manage permission profiles'],
  ['manage_account_settings', 'Manage account settings'],
  ['manage_brands', 'Manage brands'],
  ['manage_api_keys', 'Manage API keys'],
  ['view_audit_log', 'View the audit log'],
];

function ProfileForm({
  initial,
  onSave,
  label,
}: {
  initial: Partial<Profile>;
  onSave: (p: { name: string; description: string | null; permissions: string[] }) => Promise<void>;
  label: string;
}) {
  const [name, setName] = useState(initial.name ?? '');
  const [description, setDescription] = useState(initial.description ?? '');
  const [perms, setPerms] = useState(new Set(initial.permissions ?? []));
  const save = useAction(() => onSave({ name, description: description || null, permissions: [...perms] }));
  return (
    <Form onSubmit={save.run} label={label}>
      <div className="row">
        <Field label="Name" value={name} onChange={(e) => setName(e.target.value)} required />
        <Field label="Description" value={description} onChange={(e) => setDescription(e.target.value)} />
      </div>
      <CheckboxSet legend="Permissions" options={PERMISSIONS} value={perms} onChange={setPerms} />
      <Alert error={save.error} />
      <Button type="submit" kind="primary" busy={save.busy}>
        Save
      </Button>
    </Form>
  );
}

export default function ProfilesPage() {
  const { can } = useSession();
  const [accountId, setAccountId, accounts] = useAccountChoice();
  const profiles = useProfiles(accountId);
  const [editing, setEditing] = useState<number | 'new' | null>(null);
  const remove = useAction(async (p: Profile) => {
    await del(`/api/accounts/${accountId}/permission_profiles/${p.id}`);
    profiles.reload();
  });
  const writer = can('profiles:write');
  return (
    <>
      <PageTitle>Permission profiles</PageTitle>
      <AccountPicker value={accountId} onChange={setAccountId} accounts={accounts} />
      {writer && editing !== 'new' && (
        <p>
          <Button kind="primary" onClick={() => setEditing('new')}>
            New profile
          </Button>
        </p>
      )}
      {editing === 'new' && (
        <div className="card">
          <h2>New profile</h2>
          <ProfileForm
            label="New profile"
            initial={{}}
            onSave={async (body) => {
              await post(`/api/accounts/${accountId}/permission_profiles`, body);
              setEditing(null);
              profiles.reload();
            }}
          />
        </div>
      )}
      <Alert error={profiles.error || remove.error} />
      {profiles.loading && !profiles.data ? (
        <Loading what="profiles" />
      ) : (
        <Table label="Permission profiles" columns={['Profile', 'Permissions', 'Users', 'Actions']}>
          {(profiles.data ?? []).map((p) =>
            editing === p.id ? (
              <tr key={p.id}>
                <td colSpan={4}>
                  <ProfileForm
                    label={`Edit ${p.name}`}
                    initial={p}
                    onSave={async (body) => {
                      await patch(`/api/accounts/${accountId}/permission_profiles/${p.id}`, body);
                      setEditing(null);
                      profiles.reload();
                    }}
                  />
                </td>
              </tr>
            ) : (
              <tr key={p.id}>
                <td>
                  <strong>{p.name}</strong>
                  <br />
                  <small className="muted">{p.description}</small>
                </td>
                <td>
                  {p.permissions.map((k) => PERMISSIONS.find(([x]) => x === k)?.[1] ?? k).join(', ') || '—'}
                </td>
                <td>{p.user_count}</td>
                <td>
                  {writer && (
                    <span className="row">
                      <Button onClick={() => setEditing(p.id)} aria-label={`Edit ${p.name}`}>
                        Edit
                      </Button>
                      <Button
                        kind="danger"
                        onClick={() => void remove.run(p)}
                        aria-label={`Delete ${p.name}`}
                      >
                        Delete
                      </Button>
                    </span>
                  )}
                </td>
              </tr>
            ),
          )}
        </Table>
      )}
    </>
  );
}
