// The one import of oidc-provider. On import it warns, on every run, that any Node release older than 22 LTS
// is unsupported. Signet supports Node 20.19 and later (package.json engines) and CI runs the OAuth tests on
// Node 20 and 22; the warning would otherwise be the first line of every `signet` command's output (even
// `--help`), so exactly that line is dropped while the module loads, and nothing else is.
import type { Provider as OidcProvider } from 'oidc-provider';

const UNSUPPORTED_RUNTIME = 'oidc-provider WARNING: Unsupported runtime';

const warn = console.warn;
console.warn = (...args: unknown[]) => {
  if (typeof args[0] === 'string' && args[0].startsWith(UNSUPPORTED_RUNTIME)) return;
  warn(...args);
};
const oidc = await import('oidc-provider').finally(() => {
  console.warn = warn;
});

export const Provider = oidc.Provider;
export type Provider = OidcProvider;
export const errors = oidc.errors;
