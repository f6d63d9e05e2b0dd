// Two-step verification (TOTP, RFC 6238): POST /api/me/mfa/totp → {secret, otpauth_uri}; the person adds it
// to an authenticator (the QR code, or the secret typed in), then POST /api/me/mfa/totp/confirm {code} →
// {recovery_codes}, shown once. DELETE /api/me/mfa {code} turns it off.
import { useState } from 'react';
import { encode } from 'uqr';
import { del, get, post } from '../api.ts';
import { navigate } from '../router.tsx';
import { useSession } from '../session.tsx';
import {
  Alert,
  Button,
  CopyButton,
  download,
  Field,
  Form,
  PageTitle,
  useAction,
  useLoad,
  when,
} from '../ui.tsx';

/** The otpauth:// URI as a QR code, drawn as one SVG path (no inline style, no data: URL). */
function Qr({ text }: { text: string }) {
  const qr = encode(text, { ecc: 'M', border: 2 });
  let d = '';
  qr.data.forEach((row, y) => {
    row.forEach((on, x) => {
      if (on) d += `M${x} ${y}h1v1h-1z`;
    });
  });
  return (
    <svg
      className="qr"
      viewBox={`0 0 ${qr.size} ${qr.size}`}
      role="img"
      aria-label="QR code of the authenticator setup link (the same as the text below)"
    >
      <rect width={qr.size} height={qr.size} fill="#fff" />
      <path d={d} fill="#000" />
    </svg>
  );
}

export default function MfaPage() {
  const { session, refresh } = useSession();
  // GET /api/me/mfa: {enabled, enrolled_at, pending, recovery_codes_remaining}.
  const status = useLoad(
    (signal) =>
      get<{ enabled: boolean; enrolled_at: string | null; recovery_codes_remaining: number }>(
        '/api/me/mfa',
        signal,
      ),
    [],
  );
  const enabled = status.data?.enabled ?? null;
  const [setup, setSetup] = useState<{ secret: string; otpauth_uri: string } | null>(null);
  const [code, setCode] = useState('');
  const [recovery, setRecovery] = useState<string[] | null>(null);
  const [offCode, setOffCode] = useState('');
  const [off, setOff] = useState(false);
  const start = useAction(async () => {
    setSetup(await post<{ secret: string; otpauth_uri: string }>('/api/me/mfa/totp'));
  });
  const confirm = useAction(async () => {
    const res = await post<{ recovery_codes: string[] }>('/api/me/mfa/totp/confirm', {
      code: code.replace(/\s+/g, ''),
    });
    setRecovery(res.recovery_codes);
    setSetup(null);
    setCode('');
    status.reload();
    await refresh();
  });
  const disable = useAction(async () => {
    await del('/api/me/mfa', { code: offCode.replace(/\s+/g, '') });
    setOff(true);
    setOffCode('');
    status.reload();
  });
  return (
    <>
      <PageTitle>Two-step verification</PageTitle>
      {session?.mfa_enrollment_required && !recovery && (
        <Alert>Your account requires two-step verification: set it up to go on.</Alert>
      )}
      {recovery ? (
        <div className="card">
          <h2>Two-step verification is on</h2>
          <p>
            Keep these recovery codes somewhere safe. Each works once, in place of a code, if you lose your
            authenticator. They are shown only now.
          </p>
          <pre data-testid="recovery-codes">{recovery.join('\n')}</pre>
          <p className="row">
            <CopyButton text={recovery.join('\n')} what="the recovery codes" />
            <Button
              onClick={() =>
                download(
                  new Blob([`${recovery.join('\n')}\n`], { type: 'text/plain' }),
                  'signet-recovery-codes.txt',
                )
              }
            >
              Download
            </Button>
            <Button kind="primary" onClick={() => navigate('/')}>
              Done
            </Button>
          </p>
        </div>
      ) : setup ? (
        <div className="card">
          <h2>Add Signet to your authenticator app</h2>
          <p>Scan the code with your authenticator app, or enter the key by hand.</p>
          <Qr text={setup.otpauth_uri} />
          <p>
            Key: <code data-testid="totp-secret">{setup.secret}</code>{' '}
            <CopyButton text={setup.secret} what="the key" />
          </p>
          <details>
            <summary>Setup link (otpauth)</summary>
            <code>{setup.otpauth_uri}</code>
          </details>
          <Form onSubmit={confirm.run} label="Confirm authenticator">
            <Field
              label="Code from the app"
              autoComplete="one-time-code"
              inputMode="numeric"
              value={code}
              onChange={(e) => setCode(e.target.value)}
              required
            />
            <Alert error={confirm.error} />
            <Button type="submit" kind="primary" busy={confirm.busy}>
              Turn on two-step verification
            </Button>
          </Form>
        </div>
      ) : enabled ? (
        <div className="card">
          <p role="status">
            Two-step verification is on since {when(status.data?.enrolled_at)};{' '}
            {status.data?.recovery_codes_remaining} recovery codes left.
          </p>
        </div>
      ) : (
        <div className="card">
          <p>Sign-in asks for a code from an authenticator app after your password.</p>
          <Alert error={start.error} />
          <Button kind="primary" busy={start.busy} onClick={() => void start.run()}>
            Set up an authenticator app
          </Button>
        </div>
      )}
      {!setup && !recovery && enabled !== false && (
        <div className="card">
          <h2>Turn off two-step verification</h2>
          {off ? (
            <Alert>Two-step verification is off.</Alert>
          ) : (
            <Form onSubmit={disable.run} label="Turn off two-step verification" className="row">
              <Field
                label="A current code or a recovery code"
                autoComplete="one-time-code"
                value={offCode}
                onChange={(e) => setOffCode(e.target.value)}
                required
              />
              <Button type="submit" kind="danger" busy={disable.busy}>
                Turn off
              </Button>
            </Form>
          )}
          <Alert error={disable.error} />
        </div>
      )}
    </>
  );
}
