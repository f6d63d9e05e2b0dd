// My account: who I am, where I am a member, and the way to my sessions, two-step verification and password.
import { Link } from '../router.tsx';
import { useSession } from '../session.tsx';
import { PageTitle, when } from '../ui.tsx';

export default function MePage() {
  const { session, me } = useSession();
  if (!session) return null;
  const u = session.user;
  return (
    <>
      <PageTitle>My account</PageTitle>
      <div className="card">
        <dl>
          <dt>Name</dt>
          <dd>
            {u.first_name} {u.last_name}
          </dd>
          <dt>Email</dt>
          <dd>
            {u.email}{' '}
            {u.email_verified_at ? (
              <span className="badge ok">verified</span>
            ) : (
              <span className="badge bad">not verified</span>
            )}
            {u.pending_email && <> · change to {u.pending_email} waits for its confirmation link</>}
          </dd>
          <dt>Role in {session.organization.name}</dt>
          <dd>{u.role}</dd>
          <dt>Acting in account</dt>
          <dd>{session.account?.name ?? '—'}</dd>
          <dt>Session ends</dt>
          <dd>{when(session.expires_at)} at the latest (sooner when idle)</dd>
          <dt>Permissions here</dt>
          <dd>{me?.permissions.join(', ') || '—'}</dd>
        </dl>
      </div>
      <ul>
        <li>
          <Link href="/me/sessions">Where you are signed in</Link>
        </li>
        <li>
          <Link href="/me/mfa">Two-step verification</Link>
        </li>
        <li>
          <Link href="/me/password">Change your password</Link>
        </li>
      </ul>
    </>
  );
}
