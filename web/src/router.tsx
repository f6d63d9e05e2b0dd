// A small history router: the app's paths are few and flat (src/faces/web.ts lists them for the server's
// SPA fallback), so a library would add weight for nothing.
import { type AnchorHTMLAttributes, type MouseEvent, useSyncExternalStore } from 'react';

const listeners = new Set<() => void>();
const notify = () => {
  for (const l of listeners) l();
};
window.addEventListener('popstate', notify);

function subscribe(l: () => void): () => void {
  listeners.add(l);
  return () => listeners.delete(l);
}

export function usePath(): string {
  return useSyncExternalStore(subscribe, () => location.pathname);
}

export function useSearch(): URLSearchParams {
  const search = useSyncExternalStore(subscribe, () => location.search);
  return new URLSearchParams(search);
}

export function navigate(to: string, opts: { replace?: boolean } = {}): void {
  if (opts.replace) history.replaceState(null, '', to);
  else history.pushState(null, '', to);
  notify();
  // A new page: move focus to its heading so a screen reader announces it (the heading has tabIndex -1).
  requestAnimationFrame(() => document.querySelector<HTMLElement>('main h1')?.focus());
}

export function Link(props: AnchorHTMLAttributes<HTMLAnchorElement> & { href: string }) {
  const { href, onClick: given, ...rest } = props;
  // A real link (Enter follows it, a middle click opens a tab); a plain left click stays in the app.
  const onClick = (e: MouseEvent<HTMLAnchorElement>) => {
    given?.(e);
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    if (rest.target || !href.startsWith('/')) return;
    e.preventDefault();
    navigate(href);
  };
  const current = location.pathname === href ? 'page' : undefined;
  return <a href={href} aria-current={current} {...rest} onClick={onClick} />;
}
