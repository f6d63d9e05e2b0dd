// The dashboard's shell: the session, the routes (src/faces/web.ts serves index.html for the same paths),
// the navigation. People's pages are in this bundle; "my account" and every admin page load on demand.
import './styles.css';
import { type ComponentType, lazy, type ReactNode, Suspense, useEffect } from 'react';
import { createRoot } from 'react-dom/client';
import { actingAccount, post, setActingAccount } from './api.ts';
import {
  AcceptInvitePage,
  ActivatePage,
  ConfirmEmailPage,
  LoginPage,
  ResetPasswordPage,
  SignupPage,
  VerifyEmailPage,
} from './pages/people.tsx';
import { Link, navigate, usePath } from './router.tsx';
import { SessionProvider, useSession } from './session.tsx';
import { Button, Loading, useAction } from './ui.tsx';

const page = (load: () => Promise<{ default: ComponentType }>) => lazy(load);

/** Pages that need a session, by path; `permission` hides the menu entry from those who lack it. */
const SIGNED_IN: Array<{
  path: string;
  label: string;
  section: string;
  permission?: string;
  C: ComponentType;
}> = [
  {
    path: '/admin',
    label: 'Organization',
    section: 'Admin',
    permission: 'accounts:read',
    C: page(() => import('./pages/admin/organization.tsx')),
  },
  {
    path: '/admin/users',
    label: 'Users',
    section: 'Admin',
    permission: 'users:read',
    C: page(() => import('./pages/admin/users.tsx')),
  },
  {
    path: '/admin/invites',
    label: 'Invites',
    section: 'Admin',
    permission: 'users:read',
    C: page(() => import('./pages/admin/invites.tsx')),
  },
  {
    path: '/admin/imports',
    label: 'Imports',
    section: 'Admin',
    permission: 'users:write',
    C: page(() => import('./pages/admin/imports.tsx')),
  },
  {
    path: '/admin/exports',
    label: 'Exports',
    section: 'Admin',
    permission: 'users:read',
    C: page(() => import('./pages/admin/exports.tsx')),
  },
  {
    path: '/admin/profiles',
    label: 'Permission profiles',
    section: 'Admin',
    permission: 'profiles:read',
    C: page(() => import('./pages/admin/profiles.tsx')),
  },
  {
    path: '/admin/groups',
    label: 'Groups',
    section: 'Admin',
    permission: 'groups:read',
    C: page(() => import('./pages/admin/groups.tsx')),
  },
  {
    path: '/admin/mapping-rules',
    label: 'Mapping rules',
    section: 'Admin',
    permission: 'settings:read',
    C: page(() => import('./pages/admin/mapping-rules.tsx')),
  },
  {
    path: '/admin/brands',
    label: 'Brands',
    section: 'Admin',
    permission: 'brands:read',
    C: page(() => import('./pages/admin/brands.tsx')),
  },
  {
    path: '/admin/settings',
    label: 'Account settings',
    section: 'Admin',
    permission: 'settings:read',
    C: page(() => import('./pages/admin/settings.tsx')),
  },
  {
    path: '/admin/api-keys',
    label: 'API keys',
    section: 'Admin',
    permission: 'keys:read',
    C: page(() => import('./pages/admin/api-keys.tsx')),
  },
  {
    path: '/admin/domains',
    label: 'Claimed domains',
    section: 'Admin',
    permission: 'org:read',
    C: page(() => import('./pages/admin/domains.tsx')),
  },
  {
    path: '/admin/audit',
    label: 'Audit log',
    section: 'Admin',
    permission: 'audit:read',
    C: page(() => import('./pages/admin/audit.tsx')),
  },
  { path: '/me', label: 'Profile', section: 'My account', C: page(() => import('./pages/me.tsx')) },
  {
    path: '/me/sessions',
    label: 'Sessions',
    section: 'My account',
    C: page(() => import('./pages/me-sessions.tsx')),
  },
  {
    path: '/me/mfa',
    label: 'Two-step verification',
    section: 'My account',
    C: page(() => import('./pages/me-mfa.tsx')),
  },
  {
    path: '/me/password',
    label: 'Password',
    section: 'My account',
    C: page(() => import('./pages/me-password.tsx')),
  },
  {
    path: '/choose_account',
    label: 'Choose account',
    section: '',
    C: page(() => import('./pages/choose-account.tsx')),
  },
];
const USER_PAGE = page(() => import('./pages/admin/user.tsx'));

const PUBLIC: Record<string, ComponentType> = {
  '/login': LoginPage,
  '/signup': SignupPage,
  '/verify_email': VerifyEmailPage,
  '/confirm_email': ConfirmEmailPage,
  '/reset_password': ResetPasswordPage,
  '/invites/accept': AcceptInvitePage,
  '/activate': ActivatePage,
};

function Shell({ children }: { children: ReactNode }) {
  const { session, can, signedOut } = useSession();
  const path = usePath();
  const logout = useAction(async () => {
    await post('/logout');
    signedOut();
    navigate('/login', { replace: true });
  });
  const sections = ['Admin', 'My account'];
  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <span className="brand">Signet</span>
        {session && (
          <span className="who">
            {session.organization.name}
            {session.account ? ` · ${session.account.name}` : ''} · {session.user.email}
          </span>
        )}
        {(session?.user.memberships?.filter((m) => m.status === 'active').length ?? 0) > 1 && (
          <Link href="/choose_account">Switch account</Link>
        )}
        <Button onClick={() => void logout.run()} busy={logout.busy}>
          Sign out
        </Button>
      </header>
      <div className="layout">
        <nav aria-label="Main">
          {sections.map((section) => {
            const items = SIGNED_IN.filter(
              (p) => p.section === section && (!p.permission || can(p.permission)),
            );
            if (!items.length) return null;
            return (
              <div key={section}>
                <h2>{section}</h2>
                <ul>
                  {items.map((p) => (
                    <li key={p.path}>
                      <Link href={p.path} className={path === p.path ? 'active' : undefined}>
                        {p.label}
                      </Link>
                    </li>
                  ))}
                </ul>
              </div>
            );
          })}
        </nav>
        <main id="main">{children}</main>
      </div>
    </>
  );
}

function Redirect({ to }: { to: string }) {
  useEffect(() => navigate(to, { replace: true }), [to]);
  return null;
}

function App() {
  const path = usePath();
  const { status, session, can } = useSession();
  if (status === 'loading') return <Loading what="Signet" />;
  const Public = PUBLIC[path];
  if (Public) {
    return (
      <main id="main" className="public">
        <Public />
      </main>
    );
  }
  if (status === 'out' || !session) {
    return <Redirect to={`/login?next=${encodeURIComponent(path + location.search)}`} />;
  }
  if (session.password_change_required && path !== '/me/password') return <Redirect to="/me/password" />;
  if (session.mfa_enrollment_required && !session.password_change_required && path !== '/me/mfa')
    return <Redirect to="/me/mfa" />;
  if (path === '/') return <Redirect to={can('users:read') ? '/admin' : '/me'} />;
  const userMatch = /^\/admin\/users\/([0-9a-f-]{36})$/.exec(path);
  const entry = SIGNED_IN.find((p) => p.path === path);
  const C = userMatch ? USER_PAGE : entry?.C;
  return (
    <Shell>
      <Suspense fallback={<Loading what="the page" />}>
        {C ? (
          <C key={`${path}:${actingAccount() ?? ''}`} />
        ) : (
          <>
            <h1 tabIndex={-1}>Page not found</h1>
            <p>
              There is no page at {path}. <Link href="/">Go to the start page</Link>.
            </p>
          </>
        )}
      </Suspense>
    </Shell>
  );
}

// A person who chose an account in another tab and then signs in as someone else starts afresh.
if (location.pathname === '/login') setActingAccount(null);

createRoot(document.getElementById('root')!).render(
  <SessionProvider>
    <App />
  </SessionProvider>,
);
