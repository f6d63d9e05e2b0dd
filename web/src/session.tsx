// Who is signed in: GET /session on load, replaced by what /login, /signup and /invites/accept answer.
import { createContext, type ReactNode, useCallback, useContext, useEffect, useState } from 'react';
import { ApiError, get, type Session, setActingAccount, setSessionToken } from './api.ts';

export interface Me {
  type: string;
  role: string;
  permissions: string[];
  account_id: string | null;
  user_id: string | null;
}

interface SessionState {
  status: 'loading' | 'out' | 'in';
  session: Session | null;
  me: Me | null;
  /** Adopt a session answered by /login, /signup, /invites/accept … */
  adopt: (s: Session) => Promise<void>;
  refresh: () => Promise<void>;
  signedOut: () => void;
  can: (permission: string) => boolean;
}

const Ctx = createContext<SessionState | null>(null);

export function SessionProvider({ children }: { children: ReactNode }) {
  const [session, setSession] = useState<Session | null>(null);
  const [me, setMe] = useState<Me | null>(null);
  const [status, setStatus] = useState<SessionState['status']>('loading');

  const adopt = useCallback(async (s: Session) => {
    setSessionToken(s.csrf_token);
    // What the person may do in the account they act in (the menu shows what they can use).
    const who = await get<Me>('/api/me').catch(() => null);
    if (who?.account_id && s.account && who.account_id !== s.account.id) setActingAccount(null);
    setSession(s);
    setMe(who);
    setStatus('in');
  }, []);

  const refresh = useCallback(async () => {
    try {
      await adopt(await get<Session>('/session'));
    } catch (err) {
      if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
        setSessionToken(null);
        setSession(null);
        setMe(null);
        setStatus('out');
        return;
      }
      throw err;
    }
  }, [adopt]);

  const signedOut = useCallback(() => {
    setSessionToken(null);
    setActingAccount(null);
    setSession(null);
    setMe(null);
    setStatus('out');
  }, []);

  useEffect(() => {
    refresh().catch(() => setStatus('out'));
  }, [refresh]);

  const can = useCallback((p: string) => me?.permissions.includes(p) ?? false, [me]);

  return (
    <Ctx.Provider value={{ status, session, me, adopt, refresh, signedOut, can }}>{children}</Ctx.Provider>
  );
}

export function useSession(): SessionState {
  const s = useContext(Ctx);
  if (!s) throw new Error('useSession outside SessionProvider');
  return s;
}
