// Imports (docs/imports.md): drop a CSV, check it with a dry run (the plan: adds, updates, errors by code and
// per row), fix rows in place, apply, watch progress with rows/s, download the results CSV.
import { type DragEvent, useEffect, useRef, useState } from 'react';
import { get, type Page, post, qs } from '../../api.ts';
import {
  Alert,
  Button,
  Loading,
  PageTitle,
  Select,
  Table,
  TableWrap,
  useAction,
  useLoad,
  when,
} from '../../ui.tsx';
import { AccountPicker, Pager, useAccountChoice, usePager } from './common.tsx';

interface Import {
  id: string;
  status: 'queued' | 'in_process' | 'completed' | 'failed' | 'canceled';
  operation: string;
  dry_run: boolean;
  file_name: string | null;
  user_count: number;
  processed_user_count: number;
  added_user_count: number;
  updated_user_count: number;
  closed_user_count: number;
  no_action_required_user_count: number;
  error_count: number;
  percent_completed: number;
  error: { code: string; message: string } | null;
  error_rollups: Array<{ error_type: string; count: number }>;
  invalid_column_headers: string[];
  created_at: string;
}

interface Row {
  row_number: number;
  status: string;
  action: string;
  result: string;
  error_type: string | null;
  message: string | null;
  email: string | null;
}

const DONE = new Set(['completed', 'failed', 'canceled']);
/** Files up to this size open in the editor, so an error row can be fixed here; larger ones go up as they are. */
const EDITABLE_BYTES = 2_000_000;

function useImportWatch(id: string | null) {
  const [imp, setImp] = useState<Import | null>(null);
  const [rate, setRate] = useState<number | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    if (!id) return;
    const ctl = new AbortController();
    let last: { at: number; n: number } | null = null;
    const tick = async () => {
      try {
        const cur = await get<Import>(`/api/imports/${id}`, ctl.signal);
        const now = performance.now();
        if (last && now > last.at && cur.status === 'in_process') {
          setRate(Math.round(((cur.processed_user_count - last.n) * 1000) / (now - last.at)));
        }
        last = { at: now, n: cur.processed_user_count };
        setImp(cur);
        if (!DONE.has(cur.status)) timer = setTimeout(tick, 700);
      } catch (err) {
        if (!ctl.signal.aborted) setError(err);
      }
    };
    let timer = setTimeout(tick, 0);
    return () => {
      ctl.abort();
      clearTimeout(timer);
    };
  }, [id]);
  return { imp, rate, error };
}

function ImportResult({ id, label }: { id: string; label: string }) {
  const { imp, rate, error } = useImportWatch(id);
  const rows = useLoad(
    (signal) =>
      imp && DONE.has(imp.status) && imp.error_count > 0
        ? get<Page<Row>>(`/api/imports/${id}/rows?status=error&limit=100`, signal)
        : Promise.resolve(null),
    [id, imp?.status],
  );
  if (error) return <Alert error={error} />;
  if (!imp) return <Loading what="the import" />;
  const running = !DONE.has(imp.status);
  const dry = imp.dry_run;
  return (
    <section className="card" aria-labelledby={`h-${id}`}>
      <h2 id={`h-${id}`}>{label}</h2>
      <p role="status">
        {imp.status === 'queued' && 'Waiting for a worker…'}
        {imp.status === 'in_process' &&
          `${imp.processed_user_count} of ${imp.user_count || '?'} rows (${imp.percent_completed}%)${rate !== null ? `, ${rate} rows/s` : ''}`}
        {imp.status === 'completed' && `${dry ? 'Checked' : 'Done'}: ${imp.processed_user_count} rows.`}
        {imp.status === 'failed' &&
          `The file could not be used: ${imp.error?.message ?? imp.error?.code ?? 'unknown error'}`}
        {imp.status === 'canceled' && 'Canceled.'}
      </p>
      {running && <progress max={100} value={imp.percent_completed} aria-label="Import progress" />}
      <div className="stats">
        <div>
          <strong>{imp.added_user_count}</strong>
          {dry ? 'would be added' : 'added'}
        </div>
        <div>
          <strong>{imp.updated_user_count}</strong>
          {dry ? 'would be updated' : 'updated'}
        </div>
        <div>
          <strong>{imp.closed_user_count}</strong>
          {dry ? 'would be closed' : 'closed'}
        </div>
        <div>
          <strong>{imp.no_action_required_user_count}</strong>unchanged
        </div>
        <div>
          <strong>{imp.error_count}</strong>errors
        </div>
      </div>
      {imp.invalid_column_headers.length > 0 && (
        <p>Ignored columns: {imp.invalid_column_headers.join(', ')}</p>
      )}
      {imp.error_rollups.length > 0 && (
        <>
          <h3>Errors by code</h3>
          <ul>
            {imp.error_rollups.map((r) => (
              <li key={r.error_type}>
                <code>{r.error_type}</code>: {r.count}
              </li>
            ))}
          </ul>
        </>
      )}
      {rows.data && rows.data.data.length > 0 && (
        <TableWrap label="Rows with errors">
          <table>
            <caption className="muted">Rows with errors (row 1 is the first after the header)</caption>
            <thead>
              <tr>
                <th scope="col">Row</th>
                <th scope="col">Email</th>
                <th scope="col">Error</th>
                <th scope="col">What to do</th>
              </tr>
            </thead>
            <tbody>
              {rows.data.data.map((r) => (
                <tr key={r.row_number}>
                  <td>{r.row_number}</td>
                  <td className="mono">{r.email ?? '—'}</td>
                  <td>
                    <code>{r.error_type ?? r.result}</code>
                  </td>
                  <td>{r.message}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
      {imp.status === 'completed' && (
        <p>
          <a href={`/api/imports/${id}/results.csv`} download={`import-${id}-results.csv`}>
            Download the results (the file with a ProcessingResults column)
          </a>
        </p>
      )}
    </section>
  );
}

export default function ImportsPage() {
  const [accountId, setAccountId, accounts] = useAccountChoice();
  const [operation, setOperation] = useState('add');
  const [file, setFile] = useState<File | null>(null);
  const [text, setText] = useState<string | null>(null);
  const [over, setOver] = useState(false);
  const [check, setCheck] = useState<string | null>(null);
  const [applied, setApplied] = useState<string | null>(null);
  const inputRef = useRef<HTMLInputElement>(null);
  const pager = usePager();
  const history = useLoad(
    (signal) => get<Page<Import>>(`/api/imports${qs({ limit: 10, cursor: pager.cursor })}`, signal),
    [pager.cursor, applied, check],
  );

  const choose = async (f: File | null | undefined) => {
    if (!f) return;
    setFile(f);
    setCheck(null);
    setApplied(null);
    setText(f.size <= EDITABLE_BYTES ? await f.text() : null);
  };
  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    setOver(false);
    void choose(e.dataTransfer.files[0]);
  };
  const start = useAction(async (dryRun: boolean) => {
    if (!file) return;
    const body = text ?? file;
    const imp = await post<Import>(
      `/api/imports${qs({ operation, account_id: accountId, dry_run: dryRun ? 'true' : undefined })}`,
      undefined,
      { raw: { body, type: 'text/csv' }, idempotent: true },
    );
    if (dryRun) {
      setCheck(imp.id);
      setApplied(null);
    } else setApplied(imp.id);
  });
  return (
    <>
      <PageTitle>Import users</PageTitle>
      <div className="card">
        <div className="row">
          <AccountPicker value={accountId} onChange={setAccountId} accounts={accounts} />
          <Select
            label="Operation"
            value={operation}
            onChange={(e) => setOperation(e.target.value)}
            options={[
              { value: 'add', label: 'Add users' },
              { value: 'update', label: 'Update users' },
              { value: 'close', label: 'Close memberships' },
            ]}
          />
        </div>
        {/* biome-ignore lint/a11y/noStaticElementInteractions: the drop zone is a shortcut; the file input inside it is the keyboard way */}
        <div
          className={over ? 'drop over' : 'drop'}
          onDragOver={(e) => {
            e.preventDefault();
            setOver(true);
          }}
          onDragLeave={() => setOver(false)}
          onDrop={onDrop}
        >
          <p>Drop a CSV file here (DocuSign's bulk-import format), or</p>
          <label htmlFor="import-file">Choose a CSV file </label>
          <input
            id="import-file"
            ref={inputRef}
            type="file"
            accept=".csv,text/csv"
            onChange={(e) => void choose(e.target.files?.[0])}
          />
          {file && (
            <p>
              {file.name} · {Math.ceil(file.size / 1024)} KB
            </p>
          )}
        </div>
        {text !== null && (
          <div className="field">
            <label htmlFor="import-text">The file (fix rows here, then check again)</label>
            <textarea
              id="import-text"
              rows={Math.min(12, text.split('\n').length + 1)}
              value={text}
              spellCheck={false}
              onChange={(e) => {
                setText(e.target.value);
                setCheck(null);
              }}
            />
          </div>
        )}
        <div className="row">
          <Button kind="primary" disabled={!file} busy={start.busy} onClick={() => void start.run(true)}>
            Check (dry run)
          </Button>
          <Button disabled={!file || !check} busy={start.busy} onClick={() => void start.run(false)}>
            Apply import
          </Button>
        </div>
        {!check && file && (
          <p className="muted">Check the file first: a dry run shows what it would do and changes nothing.</p>
        )}
        <Alert error={start.error} />
      </div>
      {check && <ImportResult key={check} id={check} label="Dry run: what this file would do" />}
      {applied && <ImportResult key={applied} id={applied} label="Import" />}
      <h2>Recent imports</h2>
      <Alert error={history.error} />
      <Table
        label="Recent imports"
        columns={['Started', 'File', 'Operation', 'Status', 'Rows', 'Errors', 'Results']}
      >
        {(history.data?.data ?? []).map((i) => (
          <tr key={i.id}>
            <td>{when(i.created_at)}</td>
            <td>{i.file_name ?? '—'}</td>
            <td>
              {i.operation}
              {i.dry_run ? ' (dry run)' : ''}
            </td>
            <td>{i.status}</td>
            <td>{i.processed_user_count}</td>
            <td>{i.error_count}</td>
            <td>
              {i.status === 'completed' && (
                <a href={`/api/imports/${i.id}/results.csv`} download>
                  Results CSV
                </a>
              )}
            </td>
          </tr>
        ))}
      </Table>
      <Pager pager={pager} nextCursor={history.data?.next_cursor} what="imports" />
    </>
  );
}
