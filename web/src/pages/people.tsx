// The pages people reach from Signet's mails and from the sign-in screen (docs/people-and-sessions.md):
// sign in (with the MFA step), sign up, verify an email, confirm an email change, reset a password, accept an
// invite, activate an account. These are in the first bundle; the rest of the app loads on demand.
import { useEffect, useRef, useState } from 'react';
import { ApiError, fragmentToken, post, type Session } from '../api.ts';
import { Link, navigate, useSearch } from '../router.tsx';
import { useSession } from '../session.tsx';
import { Alert, Button, Field, Form, fieldErrors, PageTitle, useAction } from '../ui.tsx';

/** Where to go once signed in: the page asked for, else the start page. */
function afterSignIn(s: Session, next: string | null): void {
  const active = (s.user.memberships ?? []).filter((m) => m.status === 'active');
  if (s.password_change_required) navigate('/me/password', { replace: true });
  else if (s.mfa_enrollment_required) navigate('/me/mfa', { replace: true });
  else if (active.length > 1 && !next) navigate('/choose_account', { replace: true });
  else navigate(next?.startsWith('/') && !next.startsWith('//') ? next : '/', { replace: true });
}

function Card({ title, children }: { title: string; children: React.ReactNode }) {
  return (
    <div className="card narrow">
      <PageTitle>{title}</PageTitle>
      {children}
    </div>
  );
}

export function LoginPage() {
  const { adopt } = useSession();
  const next = useSearch().get('next');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [mfaToken, setMfaToken] = useState<string | null>(null);
  const [code, setCode] = useState('');
  const codeRef = useRef<HTMLInputElement>(null);

  const login = useAction(async () => {
    const res = await post<Session & { mfa_required?: boolean; mfa_token?: string }>('/login', {
      email,
      password,
    });
    if (res.mfa_required && res.mfa_token) {
      setMfaToken(res.mfa_token);
      requestAnimationFrame(() => codeRef.current?.focus());
      return;
    }
    await adopt(res);
    afterSignIn(res, next);
  });
  const mfa = useAction(async () => {
    const res = await post<Session>('/login/mfa', { mfa_token: mfaToken, code: code.replace(/\s+/g, '') });
    await adopt(res);
    afterSignIn(res, next);
  });

  if (mfaToken) {
    return (
      <Card title="Two-step verification">
        <p>Enter the 6-digit code from your authenticator app, or one of your recovery codes.</p>
        <Form onSubmit={mfa.run} label="Two-step verification">
          <Field
            ref={codeRef}
            label="Code"
            name="code"
            autoComplete="one-time-code"
            inputMode="text"
            value={code}
            onChange={(e) => setCode(e.target.value)}
            required
          />
          <Alert error={mfa.error} />
          <Button type="submit" kind="primary" busy={mfa.busy}>
            Verify and sign in
          </Button>{' '}
          <Button onClick={() => setMfaToken(null)}>Start over</Button>
        </Form>
      </Card>
    );
  }
  const errs = fieldErrors(login.error);
  return (
    <Card title="Sign in to Signet">
      <Form onSubmit={login.run} label="Sign in">
        <Field
          label="Email"
          type="email"
          name="email"
          autoComplete="username"
          value={email}
          onChange={(e) => setEmail(e.target.value)}
          error={errs.email}
          required
        />
        <Field
          label="Password"
          type="password"
          name="password"
          autoComplete="current-password"
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          error={errs.password}
          required
        />
        <Alert error={login.error} />
        <Button type="submit" kind="primary" busy={login.busy}>
          Sign in
        </Button>
      </Form>
      <p>
        <Link href="/reset_password">Forgot your password?</Link> ·{' '}
        <Link href="/signup">Create an organization</Link>
      </p>
    </Card>
  );
}

export function SignupPage() {
  const { adopt } = useSession();
  const [form, setForm] = useState({ name: '', email: '', password: '', organization_name: '' });
  const [checkMail, setCheckMail] = useState<string | null>(null);
  const set = (k: keyof typeof form) => (e: React.ChangeEvent<HTMLInputElement>) =>
    setForm({ ...form, [k]: e.target.value });
  const signup = useAction(async () => {
    const res = await post<Session & { status?: string; message?: string }>('/signup', form);
    if (res.status === 'check_your_mail') {
      setCheckMail(res.message ?? 'Check your mail to go on.');
      return;
    }
    await adopt(res);
    navigate('/admin?welcome=1', { replace: true });
  });
  if (checkMail) {
    return (
      <Card title="Check your mail">
        <Alert>{checkMail}</Alert>
        <p>Follow the link in the mail we sent to {form.email}.</p>
      </Card>
    );
  }
  const errs = fieldErrors(signup.error);
  return (
    <Card title="Create your organization">
      <Form onSubmit={signup.run} label="Sign up">
        <Field
          label="Your name"
          name="name"
          autoComplete="name"
          value={form.name}
          onChange={set('name')}
          error={errs.name}
          required
        />
        <Field
          label="Work email"
          type="email"
          name="email"
          autoComplete="email"
          value={form.email}
          onChange={set('email')}
          error={errs.email}
          required
        />
        <Field
          label="Password"
          type="password"
          name="password"
          autoComplete="new-password"
          hint="At least 12 characters."
          value={form.password}
          onChange={set('password')}
          error={errs.password}
          required
        />
        <Field
          label="Organization name"
          name="organization_name"
          autoComplete="organization"
          value={form.organization_name}
          onChange={set('organization_name')}
          error={errs.organization_name}
          required
        />
        <Alert error={signup.error} />
        <Button type="submit" kind="primary" busy={signup.busy}>
          Create organization
        </Button>
      </Form>
      <p>
        Already have an account? <Link href="/login">Sign in</Link>
      </p>
    </Card>
  );
}

/** A link page that POSTs its fragment token once on load: verify_email, confirm_email. */
function TokenLanding({
  title,
  endpoint,
  done,
}: {
  title: string;
  endpoint: string;
  done: (res: Record<string, unknown>) => string;
}) {
  const [state, setState] = useState<{ ok?: string; error?: unknown }>({});
  const started = useRef(false);
  useEffect(() => {
    if (started.current) return;
    started.current = true;
    const token = fragmentToken();
    // The token has done its work once posted: drop it from the address bar (and from history).
    history.replaceState(null, '', location.pathname);
    if (!token) {
      setState({
        error: new ApiError(
          400,
          'invalid_token',
          'This link has no token: open the link from the mail again.',
        ),
      });
      return;
    }
    post<Record<string, unknown>>(endpoint, { token }).then(
      (res) => setState({ ok: done(res) }),
      (error) => setState({ error }),
    );
  }, [endpoint, done]);
  return (
    <Card title={title}>
      {!state.ok && !state.error && <p role="status">Checking your link…</p>}
      {state.ok && <Alert>{state.ok}</Alert>}
      <Alert error={state.error} />
      {state.error instanceof ApiError && state.error.code === 'invalid_token' && (
        <p>Links work once and expire. Sign in and ask for a new one, or ask your administrator.</p>
      )}
      <p>
        <Link href="/">Continue to Signet</Link>
      </p>
    </Card>
  );
}

const verified = (res: Record<string, unknown>) =>
  `Your email address ${String(res.email ?? '')} is verified.`;
const changed = (res: Record<string, unknown>) =>
  `Your email address is now ${String(res.email ?? '')}. Sign in with it from now on.`;

export const VerifyEmailPage = () => (
  <TokenLanding title="Verify your email" endpoint="/verify_email" done={verified} />
);
export const ConfirmEmailPage = () => (
  <TokenLanding title="Confirm your new email" endpoint="/confirm_email" done={changed} />
);

/** Reads the fragment token once, then removes it from the address bar. */
function useFragmentToken(): string | null {
  const [token] = useState(fragmentToken);
  useEffect(() => {
    if (location.hash) history.replaceState(null, '', location.pathname + location.search);
  }, []);
  return token;
}

export function ResetPasswordPage() {
  const token = useFragmentToken();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [done, setDone] = useState<string | null>(null);
  const request = useAction(async () => {
    await post('/password_reset', { email });
    setDone(
      `If ${email} has an account, a link to set a new password is on its way. It works for 30 minutes.`,
    );
  });
  const complete = useAction(async () => {
    await post('/password_reset/complete', { token, password });
    setDone('Your password is set. Every other session of yours was signed out.');
  });
  if (done) {
    return (
      <Card title={token ? 'Password changed' : 'Check your mail'}>
        <Alert>{done}</Alert>
        <p>
          <Link href="/login">Sign in</Link>
        </p>
      </Card>
    );
  }
  if (token) {
    return (
      <Card title="Choose a new password">
        <Form onSubmit={complete.run} label="New password">
          <Field
            label="New password"
            type="password"
            autoComplete="new-password"
            hint="At least 12 characters."
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            error={fieldErrors(complete.error).password}
            required
          />
          <Alert error={complete.error} />
          <Button type="submit" kind="primary" busy={complete.busy}>
            Set password
          </Button>
        </Form>
      </Card>
    );
  }
  return (
    <Card title="Reset your password">
      <Form onSubmit={request.run} label="Reset password">
        <Field
          label="Email"
          type="email"
          autoComplete="username"
          value={email}
          onChange={(e) => setEmail(e.target.value)}
          required
        />
        <Alert error={request.error} />
        <Button type="submit" kind="primary" busy={request.busy}>
          Mail me a link
        </Button>
      </Form>
      <p>
        <Link href="/login">Back to sign in</Link>
      </p>
    </Card>
  );
}

export function AcceptInvitePage() {
  const token = useFragmentToken();
  const { status, session, adopt } = useSession();
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const accept = useAction(async (asSignedIn: boolean) => {
    const body: Record<string, string | null> = { token };
    if (!asSignedIn) {
      body.password = password;
      if (name.trim()) body.name = name.trim();
    }
    const res = await post<Session>('/invites/accept', body);
    await adopt(res);
    afterSignIn(res, null);
  });
  if (!token) {
    return (
      <Card title="Accept an invitation">
        <Alert
          error={
            new ApiError(400, 'invalid_token', 'This link has no token: open the link from the mail again.')
          }
        />
      </Card>
    );
  }
  return (
    <Card title="Accept your invitation">
      {status === 'in' && session && (
        <>
          <p>You are signed in as {session.user.email}.</p>
          <Button kind="primary" busy={accept.busy} onClick={() => void accept.run(true)}>
            Accept as {session.user.email}
          </Button>
          <p className="muted">Or accept as someone else below.</p>
        </>
      )}
      <Form onSubmit={() => accept.run(false)} label="Accept invitation">
        <Field
          label="Your name"
          name="name"
          autoComplete="name"
          hint="New to Signet: the name your colleagues will see."
          value={name}
          onChange={(e) => setName(e.target.value)}
        />
        <Field
          label="Password"
          type="password"
          name="password"
          autoComplete="new-password"
          hint="New to Signet: choose one (12 characters or more). Already a user: your present password."
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          error={fieldErrors(accept.error).password}
          required
        />
        <Alert error={accept.error} />
        <Button type="submit" kind="primary" busy={accept.busy}>
          Accept invitation
        </Button>
      </Form>
    </Card>
  );
}

export function ActivatePage() {
  const token = useFragmentToken();
  const { adopt } = useSession();
  const [password, setPassword] = useState('');
  const [done, setDone] = useState(false);
  const activate = useAction(async () => {
    const res = await post<Partial<Session> | null>('/activate', { token, password });
    if (res?.csrf_token && res.user) {
      await adopt(res as Session);
      afterSignIn(res as Session, null);
      return;
    }
    setDone(true);
  });
  if (done) {
    return (
      <Card title="Your account is active">
        <Alert>Your password is set.</Alert>
        <p>
          <Link href="/login">Sign in</Link>
        </p>
      </Card>
    );
  }
  return (
    <Card title="Activate your account">
      {!token && (
        <Alert
          error={
            new ApiError(400, 'invalid_token', 'This link has no token: open the link from the mail again.')
          }
        />
      )}
      <Form onSubmit={activate.run} label="Activate">
        <Field
          label="Choose a password"
          type="password"
          autoComplete="new-password"
          hint="Your organization's password rules apply (12 characters at least)."
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          error={fieldErrors(activate.error).password}
          required
        />
        <Alert error={activate.error} />
        <Button type="submit" kind="primary" busy={activate.busy} disabled={!token}>
          Activate
        </Button>
      </Form>
    </Card>
  );
}
