// Change my password: POST /api/me/password {current_password, password}; the account's password policy
// applies (400 password_policy says which rule failed).
import { useState } from 'react';
import { post } from '../api.ts';
import { navigate } from '../router.tsx';
import { useSession } from '../session.tsx';
import { Alert, Button, Field, Form, fieldErrors, PageTitle, useAction } from '../ui.tsx';

export default function PasswordPage() {
  const { session, refresh } = useSession();
  const expired = session?.password_change_required ?? false;
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [done, setDone] = useState(false);
  const change = useAction(async () => {
    setDone(false);
    await post('/api/me/password', { current_password: current, password: next });
    setCurrent('');
    setNext('');
    setDone(true);
    // A session held to the change is free again: go on to where signing in would have led.
    if (expired) {
      await refresh();
      navigate('/', { replace: true });
    }
  });
  const errs = fieldErrors(change.error);
  return (
    <>
      <PageTitle>Change your password</PageTitle>
      {expired && (
        <Alert>
          Your password has expired: your organization asks for a new one every so often. Choose a new
          password (not the current one) to go on.
        </Alert>
      )}
      <div className="card narrow">
        <Form onSubmit={change.run} label="Change password">
          <input type="text" name="username" autoComplete="username" hidden readOnly />
          <Field
            label="Current password"
            type="password"
            autoComplete="current-password"
            value={current}
            onChange={(e) => setCurrent(e.target.value)}
            error={errs.current_password}
            required
          />
          <Field
            label="New password"
            type="password"
            autoComplete="new-password"
            hint="Your organization's password rules apply."
            value={next}
            onChange={(e) => setNext(e.target.value)}
            error={errs.password}
            required
          />
          <Alert error={change.error} />
          {done && <Alert>Your password is changed.</Alert>}
          <Button type="submit" kind="primary" busy={change.busy}>
            Change password
          </Button>
        </Form>
      </div>
    </>
  );
}
