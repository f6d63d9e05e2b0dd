// Exports (docs/exports.md): users (with memberships) or account settings, as CSV or JSON Lines; progress,
// download while it lasts, delete.
import { useEffect, useState } from 'react';
import { del, get, type Page, post } from '../../api.ts';
import { Alert, Button, PageTitle, Select, Table, useAction, useLoad, when } from '../../ui.tsx';
import { useAccounts } from './common.tsx';

interface Export {
  id: string;
  kind: string;
  format: string;
  status: string;
  row_count: number;
  size_bytes: number;
  percent_completed: number;
  error: { message: string } | null;
  created_at: string;
  expires_at: string;
  expired: boolean;
}

export default function ExportsPage() {
  const accounts = useAccounts();
  const [kind, setKind] = useState('users');
  const [format, setFormat] = useState('csv');
  const [account, setAccount] = useState('');
  const list = useLoad((signal) => get<Page<Export>>('/api/exports?limit=20', signal), []);
  const running = list.data?.data.some((e) => e.status === 'queued' || e.status === 'in_process');
  // While an export runs, look again every second (after each answer).
  // biome-ignore lint/correctness/useExhaustiveDependencies: list.data is the tick
  useEffect(() => {
    if (!running) return;
    const t = setTimeout(list.reload, 1000);
    return () => clearTimeout(t);
  }, [running, list.data, list.reload]);
  const start = useAction(async () => {
    await post(
      '/api/exports',
      { kind, format, account_ids: account ? [account] : null },
      { idempotent: true },
    );
    list.reload();
  });
  const remove = useAction(async (id: string) => {
    await del(`/api/exports/${id}`);
    list.reload();
  });
  return (
    <>
      <PageTitle>Exports</PageTitle>
      <div className="row card">
        <Select
          label="What"
          value={kind}
          onChange={(e) => setKind(e.target.value)}
          options={[
            { value: 'users', label: 'Users and memberships' },
            { value: 'account_settings', label: 'Account settings' },
          ]}
        />
        <Select
          label="Format"
          value={format}
          onChange={(e) => setFormat(e.target.value)}
          options={[
            { value: 'csv', label: 'CSV' },
            { value: 'jsonl', label: 'JSON Lines' },
          ]}
        />
        <Select
          label="Accounts"
          value={account}
          onChange={(e) => setAccount(e.target.value)}
          options={[
            { value: '', label: 'All' },
            ...(accounts.data ?? []).map((a) => ({ value: a.id, label: a.name })),
          ]}
        />
        <Button kind="primary" busy={start.busy} onClick={() => void start.run()}>
          Start export
        </Button>
      </div>
      <Alert error={list.error || start.error || remove.error} />
      <Table label="Exports" columns={['Started', 'What', 'Status', 'Rows', 'Available until', 'Actions']}>
        {(list.data?.data ?? []).map((e) => (
          <tr key={e.id}>
            <td>{when(e.created_at)}</td>
            <td>
              {e.kind} · {e.format}
            </td>
            <td>
              {e.status === 'in_process' ? (
                <progress
                  max={100}
                  value={e.percent_completed}
                  aria-label={`Export ${e.percent_completed}% done`}
                />
              ) : (
                e.status
              )}
              {e.error && <small className="field-error"> {e.error.message}</small>}
            </td>
            <td>{e.row_count}</td>
            <td>{e.expired ? 'expired' : when(e.expires_at)}</td>
            <td className="row">
              {e.status === 'completed' && !e.expired && (
                <a href={`/api/exports/${e.id}/download`} download>
                  Download
                </a>
              )}
              <Button
                kind="danger"
                onClick={() => void remove.run(e.id)}
                aria-label={`Delete the export of ${when(e.created_at)}`}
              >
                Delete
              </Button>
            </td>
          </tr>
        ))}
      </Table>
    </>
  );
}
