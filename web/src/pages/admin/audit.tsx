// The audit log (docs/audit.md): filters, newest first, keyset pages, each event's before/after, export, and
// the hash chain checked here in the browser: every event's hash is recomputed (SHA-256 over the previous
// hash and the event's canonical JSON, as src/core/audit/chain.ts computes it) and each must link to the one
// before it. `signet audit verify` is the server-side check of the same chain.
import { Fragment, useState } from 'react';
import { get, type Page, qs } from '../../api.ts';
import { Alert, Button, Field, Loading, PageTitle, TableWrap, useAction, useLoad, when } from '../../ui.tsx';
import { Pager, usePager } from './common.tsx';

interface AuditEvent {
  id: string;
  organization_id: string;
  seq: number;
  occurred_at: string;
  actor_type: string;
  actor_id: string | null;
  actor_label: string | null;
  action: string;
  target_type: string;
  target_id: string | null;
  account_id: string | null;
  changes: Record<string, { before?: unknown; after?: unknown } | unknown>;
  ip: string | null;
  user_agent: string | null;
  request_id: string | null;
  prev_hash: string;
  hash: string;
}

const GENESIS = '0'.repeat(64);

function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
}

async function eventHash(e: AuditEvent): Promise<string> {
  const fields = {
    id: e.id,
    organization_id: e.organization_id,
    seq: String(e.seq),
    occurred_at: new Date(e.occurred_at).toISOString(),
    actor_type: e.actor_type,
    actor_id: e.actor_id,
    actor_label: e.actor_label,
    action: e.action,
    target_type: e.target_type,
    target_id: e.target_id,
    account_id: e.account_id,
    changes: e.changes,
    ip: e.ip,
    user_agent: e.user_agent,
    request_id: e.request_id,
  };
  const bytes = new TextEncoder().encode(`${e.prev_hash}\n${canonicalJson(fields)}`);
  const digest = await crypto.subtle.digest('SHA-256', bytes);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** Walks the whole chain oldest first; the first event that does not fit, or null when intact. */
async function verifyChain(progress: (n: number) => void): Promise<{ count: number; broken: string | null }> {
  let prev = GENESIS;
  let expectSeq = 1;
  let cursor: string | null = null;
  let count = 0;
  do {
    const page: Page<AuditEvent> = await get<Page<AuditEvent>>(
      `/api/audit_events${qs({ order: 'asc', limit: 500, cursor })}`,
    );
    for (const e of page.data) {
      if (e.seq !== expectSeq) return { count, broken: `event #${expectSeq} is missing (next is #${e.seq})` };
      if (e.prev_hash !== prev)
        return { count, broken: `event #${e.seq} does not link to the event before it` };
      if ((await eventHash(e)) !== e.hash)
        return { count, broken: `event #${e.seq} (${e.action}) does not match its hash: it was edited` };
      prev = e.hash;
      expectSeq++;
      count++;
    }
    progress(count);
    cursor = page.next_cursor;
  } while (cursor);
  return { count, broken: null };
}

function Changes({ changes }: { changes: AuditEvent['changes'] }) {
  const entries = Object.entries(changes).filter(([k]) => k !== '_meta');
  if (!entries.length) return <p className="muted">No field changes recorded.</p>;
  return (
    <table>
      <thead>
        <tr>
          <th scope="col">Field</th>
          <th scope="col">Before</th>
          <th scope="col">After</th>
        </tr>
      </thead>
      <tbody>
        {entries.map(([k, v]) => {
          const pair =
            v && typeof v === 'object' && ('before' in v || 'after' in v)
              ? (v as { before?: unknown; after?: unknown })
              : { after: v };
          return (
            <tr key={k}>
              <td>
                <code>{k}</code>
              </td>
              <td className="mono">{JSON.stringify(pair.before ?? null)}</td>
              <td className="mono">{JSON.stringify(pair.after ?? null)}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

export default function AuditPage() {
  const [filters, setFilters] = useState({
    action: '',
    actor_id: '',
    target_type: '',
    target_id: '',
    since: '',
    until: '',
  });
  const [applied, setApplied] = useState(filters);
  const [open, setOpen] = useState<string | null>(null);
  const pager = usePager();
  const params = {
    ...applied,
    since: applied.since ? new Date(applied.since).toISOString() : '',
    until: applied.until ? new Date(applied.until).toISOString() : '',
  };
  const list = useLoad(
    (signal) =>
      get<Page<AuditEvent>>(`/api/audit_events${qs({ ...params, limit: 50, cursor: pager.cursor })}`, signal),
    [JSON.stringify(applied), pager.cursor],
  );
  const [checked, setChecked] = useState<number>(0);
  const [verdict, setVerdict] = useState<string | null>(null);
  const verify = useAction(async () => {
    setVerdict(null);
    const res = await verifyChain(setChecked);
    setVerdict(
      res.broken
        ? `Chain broken after ${res.count} events: ${res.broken}.`
        : `Chain intact: ${res.count} events, each matching its hash and linked to the one before.`,
    );
  });
  const set = (k: keyof typeof filters) => (e: React.ChangeEvent<HTMLInputElement>) =>
    setFilters({ ...filters, [k]: e.target.value });
  return (
    <>
      <PageTitle>Audit log</PageTitle>
      <form
        className="row card"
        aria-label="Filter events"
        onSubmit={(e) => {
          e.preventDefault();
          pager.reset();
          setApplied(filters);
        }}
      >
        <Field
          label="Action"
          placeholder="user.* or api_key.rotated"
          value={filters.action}
          onChange={set('action')}
        />
        <Field label="Actor id" value={filters.actor_id} onChange={set('actor_id')} />
        <Field
          label="Target type"
          placeholder="user"
          value={filters.target_type}
          onChange={set('target_type')}
        />
        <Field label="Target id" value={filters.target_id} onChange={set('target_id')} />
        <Field label="Since" type="datetime-local" value={filters.since} onChange={set('since')} />
        <Field label="Until" type="datetime-local" value={filters.until} onChange={set('until')} />
        <Button type="submit" kind="primary">
          Filter
        </Button>
      </form>
      <p className="row">
        <a href={`/api/audit_events/export${qs({ ...params, format: 'csv' })}`} download="audit.csv">
          Export CSV
        </a>
        <a href={`/api/audit_events/export${qs({ ...params, format: 'jsonl' })}`} download="audit.jsonl">
          Export JSON Lines
        </a>
        <Button busy={verify.busy} onClick={() => void verify.run()}>
          Verify the hash chain
        </Button>
        {verify.busy && <span role="status">{checked} events checked…</span>}
      </p>
      {verdict && <Alert>{verdict}</Alert>}
      <Alert error={list.error || verify.error} />
      {list.loading && !list.data ? (
        <Loading what="events" />
      ) : (
        <TableWrap label="Audit events">
          <table>
            <caption className="muted">Newest first</caption>
            <thead>
              <tr>
                <th scope="col">#</th>
                <th scope="col">When</th>
                <th scope="col">Action</th>
                <th scope="col">Actor</th>
                <th scope="col">Target</th>
                <th scope="col">Detail</th>
              </tr>
            </thead>
            <tbody>
              {(list.data?.data ?? []).map((e) => (
                <Fragment key={e.id}>
                  <tr>
                    <td>{e.seq}</td>
                    <td>{when(e.occurred_at)}</td>
                    <td>
                      <code>{e.action}</code>
                    </td>
                    <td>
                      {e.actor_label ?? e.actor_type} <small className="muted">({e.actor_type})</small>
                    </td>
                    <td>
                      {e.target_type} <small className="mono muted">{e.target_id}</small>
                    </td>
                    <td>
                      <Button
                        aria-expanded={open === e.id}
                        onClick={() => setOpen(open === e.id ? null : e.id)}
                        aria-label={`${open === e.id ? 'Hide' : 'Show'} details of event ${e.seq}, ${e.action}`}
                      >
                        {open === e.id ? 'Hide' : 'Show'}
                      </Button>
                    </td>
                  </tr>
                  {open === e.id && (
                    <tr>
                      <td colSpan={6}>
                        <Changes changes={e.changes} />
                        <p className="muted">
                          From {e.ip ?? '—'} · {e.user_agent ?? '—'} · request{' '}
                          <code>{e.request_id ?? '—'}</code> · hash <code>{e.hash.slice(0, 16)}…</code>
                        </p>
                      </td>
                    </tr>
                  )}
                </Fragment>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
      <Pager pager={pager} nextCursor={list.data?.next_cursor} what="events" />
    </>
  );
}
