// CSV injection defence (OWASP "CSV Injection"): a cell that a spreadsheet would read as a formula gets a
// leading single quote, so exported data is shown, never executed.
const FORMULA_START = /^[=+\-@\t\r]/;

export function neutralizeFormula(value: unknown): string {
  if (value === null || value === undefined) return '';
  const s =
    value instanceof Date
      ? value.toISOString()
      : typeof value === 'object'
        ? JSON.stringify(value)
        : String(value);
  return FORMULA_START.test(s) ? `'${s}` : s;
}
