// The dashboard's few building blocks: every input has a visible <label>, errors are announced (role=alert)
// and tied to their field (aria-describedby), buttons say what they do.
import {
  type ButtonHTMLAttributes,
  type FormEvent,
  type InputHTMLAttributes,
  type ReactNode,
  type Ref,
  type SelectHTMLAttributes,
  useCallback,
  useEffect,
  useId,
  useRef,
  useState,
} from 'react';
import { ApiError, describe } from './api.ts';

export function Field(
  props: InputHTMLAttributes<HTMLInputElement> & {
    label: string;
    hint?: string;
    error?: string | null | undefined;
    ref?: Ref<HTMLInputElement>;
  },
) {
  const id = useId();
  const { label, hint, error, ...input } = props;
  const hintId = hint ? `${id}-hint` : undefined;
  const errId = error ? `${id}-err` : undefined;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        aria-describedby={[hintId, errId].filter(Boolean).join(' ') || undefined}
        aria-invalid={error ? true : undefined}
        {...input}
      />
      {hint && (
        <small id={hintId} className="hint">
          {hint}
        </small>
      )}
      {error && (
        <small id={errId} className="field-error">
          {error}
        </small>
      )}
    </div>
  );
}

export function Select(
  props: SelectHTMLAttributes<HTMLSelectElement> & {
    label: string;
    options: ReadonlyArray<{ value: string; label: string }>;
  },
) {
  const id = useId();
  const { label, options, ...select } = props;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <select id={id} {...select}>
        {options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
    </div>
  );
}

export function Button(props: ButtonHTMLAttributes<HTMLButtonElement> & { busy?: boolean; kind?: string }) {
  const { busy, kind, children, className, ...rest } = props;
  return (
    <button
      type="button"
      className={[kind ?? '', className ?? ''].join(' ').trim() || undefined}
      aria-busy={busy || undefined}
      disabled={busy || rest.disabled}
      {...rest}
    >
      {children}
    </button>
  );
}

export function Alert({ error, children }: { error?: unknown; children?: ReactNode }) {
  if (!error && !children) return null;
  return (
    <div className={error ? 'alert error' : 'alert'} role={error ? 'alert' : 'status'}>
      {error ? describe(error) : children}
    </div>
  );
}

/** Details of a validation error, keyed by field, for the Field that shows each. */
export function fieldErrors(err: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (err instanceof ApiError) for (const d of err.details) if (d.field) out[d.field] = d.message;
  return out;
}

export function Form({
  onSubmit,
  children,
  label,
  className,
}: {
  onSubmit: () => Promise<void> | void;
  children: ReactNode;
  label?: string;
  className?: string;
}) {
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void onSubmit();
  };
  return (
    <form onSubmit={submit} aria-label={label} className={className} noValidate>
      {children}
    </form>
  );
}

/** Runs an action, keeping its busy state and last error. */
export function useAction<A extends unknown[]>(fn: (...args: A) => Promise<void>) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const run = useCallback(
    async (...args: A) => {
      setBusy(true);
      setError(null);
      try {
        await fn(...args);
      } catch (err) {
        if ((err as Error).name !== 'AbortError') setError(err);
      } finally {
        setBusy(false);
      }
    },
    [fn],
  );
  return { run, busy, error, setError };
}

/** Loads data when its dependencies change; a newer load aborts the older one. */
export function useLoad<T>(fn: (signal: AbortSignal) => Promise<T>, deps: unknown[]) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const fnRef = useRef(fn);
  fnRef.current = fn;
  // biome-ignore lint/correctness/useExhaustiveDependencies: the caller names the dependencies
  useEffect(() => {
    const ctl = new AbortController();
    setLoading(true);
    setError(null);
    fnRef.current(ctl.signal).then(
      (d) => {
        if (!ctl.signal.aborted) {
          setData(d);
          setLoading(false);
        }
      },
      (err) => {
        if (!ctl.signal.aborted) {
          setError(err);
          setLoading(false);
        }
      },
    );
    return () => ctl.abort();
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, loading, reload, setData };
}

export function Loading({ what }: { what: string }) {
  return (
    <p className="muted" role="status">
      Loading {what}…
    </p>
  );
}

/** Copies `text`; `what` names it for a screen reader ("Copy the new key"). */
export function CopyButton({ text, what }: { text: string; what: string }) {
  const [done, setDone] = useState(false);
  return (
    <Button
      onClick={() => {
        void navigator.clipboard?.writeText(text).then(() => setDone(true));
      }}
      aria-label={`${done ? 'Copied' : 'Copy'} ${what}`}
    >
      {done ? 'Copied' : 'Copy'}
    </Button>
  );
}

export function when(iso: string | null | undefined): string {
  if (!iso) return '—';
  return new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

export function PageTitle({ children }: { children: ReactNode }) {
  useEffect(() => {
    document.title = `${typeof children === 'string' ? children : 'Signet'} · Signet`;
  }, [children]);
  return <h1 tabIndex={-1}>{children}</h1>;
}

/** Saves a Blob under a name (results CSV, exports fetched with the session). */
export function download(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** A table that may scroll sideways on a narrow screen: a named region, reachable by keyboard to scroll it. */
/** A labelled checkbox (the box first, as forms put it). */
export function Check({
  checked,
  onChange,
  children,
}: {
  checked: boolean;
  onChange: (checked: boolean) => void;
  children: ReactNode;
}) {
  return (
    <label className="check">
      <input type="checkbox" checked={checked} onChange={(e) => onChange(e.target.checked)} /> {children}{' '}
    </label>
  );
}

/** A fieldset of checkboxes choosing a set of keys (permissions, scopes), each box named in words. */
export function CheckboxSet({
  legend,
  options,
  value,
  onChange,
}: {
  legend: string;
  options: ReadonlyArray<readonly [key: string, text: string]>;
  value: ReadonlySet<string>;
  onChange: (next: Set<string>) => void;
}) {
  return (
    <fieldset>
      <legend>{legend}</legend>
      {options.map(([key, text]) => (
        <Check
          key={key}
          checked={value.has(key)}
          onChange={(on) => {
            const next = new Set(value);
            if (on) next.add(key);
            else next.delete(key);
            onChange(next);
          }}
        >
          {text}
        </Check>
      ))}
    </fieldset>
  );
}

/**
 * A labelled, keyboard-scrollable table with a header row: the shape every list of the dashboard has, kept
 * once (the label names the region for screen readers; each column header is scope="col").
 */
export function Table({
  label,
  columns,
  children,
}: {
  label: string;
  columns: readonly string[];
  children: ReactNode;
}) {
  return (
    <TableWrap label={label}>
      <table>
        <thead>
          <tr>
            {columns.map((c) => (
              <th key={c} scope="col">
                {c}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </TableWrap>
  );
}

export function TableWrap({ label, children }: { label: string; children: ReactNode }) {
  return (
    // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must take focus to be scrolled by keyboard (WCAG 2.1.1)
    <section className="table-wrap" aria-label={label} tabIndex={0}>
      {children}
    </section>
  );
}
