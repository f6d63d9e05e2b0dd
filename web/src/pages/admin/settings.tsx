// Account settings from the typed catalogue (GET /api/settings/catalogue: key, description, default, JSON
// Schema): a checkbox for a boolean, a number field for a number, a list for an enum, JSON for the rest;
// the server validates against the schema and says what is wrong.
import { useState } from 'react';
import { get, patch } from '../../api.ts';
import { useSession } from '../../session.tsx';
import { Alert, Button, Loading, PageTitle, useAction, useLoad } from '../../ui.tsx';
import { AccountPicker, useAccountChoice } from './common.tsx';

interface Entry {
  key: string;
  description: string;
  default: unknown;
  schema: { type?: string; enum?: unknown[]; minimum?: number; maximum?: number };
}

function SettingRow({
  entry,
  value,
  accountId,
  onSaved,
  writable,
}: {
  entry: Entry;
  value: unknown;
  accountId: string;
  onSaved: () => void;
  writable: boolean;
}) {
  const kind = entry.schema.type;
  const [draft, setDraft] = useState(
    kind === 'object' || kind === 'array' ? JSON.stringify(value, null, 2) : String(value ?? ''),
  );
  const [saved, setSaved] = useState(false);
  const id = `setting-${entry.key}`;
  const save = useAction(async (v?: unknown) => {
    setSaved(false);
    let next: unknown = v;
    if (v === undefined) {
      if (kind === 'integer' || kind === 'number') next = Number(draft);
      else if (kind === 'object' || kind === 'array') {
        try {
          next = JSON.parse(draft);
        } catch {
          throw new Error('This is not valid JSON: check the brackets, quotes and commas.');
        }
      } else next = draft;
    }
    await patch(`/api/accounts/${accountId}/settings`, { [entry.key]: next });
    setSaved(true);
    onSaved();
  });
  const reset = useAction(async () => {
    await patch(`/api/accounts/${accountId}/settings`, { [entry.key]: null });
    onSaved();
  });
  return (
    <div className="card">
      <label htmlFor={id}>
        <strong>{entry.key}</strong>
      </label>
      <p className="muted" id={`${id}-d`}>
        {entry.description} Default: <code>{JSON.stringify(entry.default)}</code>
      </p>
      {kind === 'boolean' ? (
        <input
          id={id}
          type="checkbox"
          aria-describedby={`${id}-d`}
          checked={value === true}
          disabled={!writable}
          onChange={(e) => void save.run(e.target.checked)}
        />
      ) : entry.schema.enum ? (
        <select
          id={id}
          aria-describedby={`${id}-d`}
          value={String(value)}
          disabled={!writable}
          onChange={(e) => void save.run(e.target.value)}
        >
          {entry.schema.enum.map((o) => (
            <option key={String(o)}>{String(o)}</option>
          ))}
        </select>
      ) : kind === 'object' || kind === 'array' ? (
        <textarea
          id={id}
          aria-describedby={`${id}-d`}
          rows={Math.min(10, draft.split('\n').length + 1)}
          cols={50}
          value={draft}
          disabled={!writable}
          onChange={(e) => setDraft(e.target.value)}
          spellCheck={false}
        />
      ) : (
        <input
          id={id}
          aria-describedby={`${id}-d`}
          type={kind === 'integer' || kind === 'number' ? 'number' : 'text'}
          value={draft}
          disabled={!writable}
          onChange={(e) => setDraft(e.target.value)}
        />
      )}
      {writable && (
        <div className="row">
          {kind !== 'boolean' && !entry.schema.enum && (
            <Button onClick={() => void save.run()} busy={save.busy} aria-label={`Save ${entry.key}`}>
              Save
            </Button>
          )}
          <Button
            onClick={() => void reset.run()}
            busy={reset.busy}
            aria-label={`Reset to default: ${entry.key}`}
          >
            Reset to default
          </Button>
        </div>
      )}
      {saved && <Alert>Saved.</Alert>}
      <Alert error={save.error || reset.error} />
    </div>
  );
}

export default function SettingsPage() {
  const { can } = useSession();
  const [accountId, setAccountId, accounts] = useAccountChoice();
  const catalogue = useLoad((signal) => get<{ data: Entry[] }>('/api/settings/catalogue', signal), []);
  const values = useLoad(
    (signal) =>
      accountId
        ? get<Record<string, unknown>>(`/api/accounts/${accountId}/settings`, signal)
        : Promise.resolve(null),
    [accountId],
  );
  return (
    <>
      <PageTitle>Account settings</PageTitle>
      <AccountPicker value={accountId} onChange={setAccountId} accounts={accounts} />
      <Alert error={catalogue.error || values.error} />
      {!catalogue.data || !values.data || !accountId ? (
        <Loading what="settings" />
      ) : (
        catalogue.data.data.map((entry) => (
          <SettingRow
            key={`${accountId}:${entry.key}`}
            entry={entry}
            value={values.data?.[entry.key]}
            accountId={accountId}
            onSaved={values.reload}
            writable={can('settings:write')}
          />
        ))
      )}
    </>
  );
}
