// Queries compiled once (issue 15). Building a Kysely query and compiling it to SQL costs more Node CPU per
// request than the driver's work for a one-row read (about a fifth of GET /api/users/{id}); the hottest reads
// have a fixed shape, so they are compiled on first use with a placeholder for each parameter, and later
// calls only put the values in. The SQL text is the same as before, so it is the same prepared statement.
import type { Compilable, CompiledQuery, Kysely } from 'kysely';
import type { Database } from './schema.ts';

/**
 * `build(db, params)` is compiled once with `placeholders` (distinct values, each used only as a parameter:
 * strings, numbers, or objects compared by identity); the function returned fills in each call's values in
 * the places where the placeholders ended up. A parameter that is no placeholder (a constant in the query)
 * is refused at the first call: such a query must not be templated this way.
 */
export function compiledOnce<P extends Record<string, unknown>, R>(
  placeholders: P,
  build: (db: Kysely<Database>, params: P) => Compilable<R>,
): (db: Kysely<Database>, params: P) => CompiledQuery<R> {
  let template: CompiledQuery<R> | undefined;
  let slots: (keyof P)[] = [];
  const keys = Object.keys(placeholders) as (keyof P)[];
  return (db, params) => {
    if (template === undefined) {
      const compiled = build(db, placeholders).compile();
      slots = compiled.parameters.map((value) => {
        const key = keys.find((k) => placeholders[k] === value);
        if (key === undefined)
          throw new Error(`compiledOnce: parameter ${String(value)} is not a placeholder`);
        return key;
      });
      template = compiled;
    }
    return { ...template, parameters: slots.map((k) => params[k]) };
  };
}
