// Where I am signed in: GET /api/me/sessions; end one (DELETE /api/me/sessions/{id}) or all the others
// (POST /api/me/sessions/revoke_others).
import { del, get, post } from '../api.ts';
import { Alert, Button, Loading, PageTitle, TableWrap, useAction, useLoad, when } from '../ui.tsx';

interface SessionRow {
  id: string;
  current?: boolean;
  created_at: string;
  last_seen_at?: string | null;
  expires_at?: string | null;
  ip?: string | null;
  user_agent?: string | null;
}

export default function SessionsPage() {
  const list = useLoad(async (signal) => {
    const res = await get<{ data: SessionRow[] } | SessionRow[]>('/api/me/sessions', signal);
    return Array.isArray(res) ? res : res.data;
  }, []);
  const end = useAction(async (id: string) => {
    await del(`/api/me/sessions/${id}`);
    list.reload();
  });
  const others = useAction(async () => {
    await post('/api/me/sessions/revoke_others');
    list.reload();
  });
  return (
    <>
      <PageTitle>Where you are signed in</PageTitle>
      <p>
        <Button kind="danger" busy={others.busy} onClick={() => void others.run()}>
          Sign out all other sessions
        </Button>
      </p>
      <Alert error={list.error || end.error || others.error} />
      {list.loading && !list.data ? (
        <Loading what="sessions" />
      ) : (
        <TableWrap label="Sessions">
          <table>
            <caption className="muted">Your sessions</caption>
            <thead>
              <tr>
                <th scope="col">Device</th>
                <th scope="col">Address</th>
                <th scope="col">Signed in</th>
                <th scope="col">Last active</th>
                <th scope="col">Action</th>
              </tr>
            </thead>
            <tbody>
              {(list.data ?? []).map((s) => (
                <tr key={s.id}>
                  <td>
                    {s.user_agent ?? 'unknown'} {s.current && <span className="badge ok">this session</span>}
                  </td>
                  <td>{s.ip ?? '—'}</td>
                  <td>{when(s.created_at)}</td>
                  <td>{when(s.last_seen_at)}</td>
                  <td>
                    {!s.current && (
                      <Button
                        onClick={() => void end.run(s.id)}
                        aria-label={`Sign out session from ${s.user_agent ?? s.id}`}
                      >
                        Sign out
                      </Button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
    </>
  );
}
