// The one rule for what Signet accepts as an email address, used by every face (through the JSON schema format
// `email`, registered in server.ts), the CSV import and the CLI.
//
// The length is checked before anything else: at most 254 characters (RFC 5321's limit on a forward path,
// less its angle brackets), so no check ever looks at a long string. The shape check after it is one regular
// expression that cannot backtrack: the local part and each domain label are runs of characters that exclude
// their own separators (`@` and `.`), so every character has exactly one place to go and the match is linear
// in the length. (The copies this replaces let `[^\s@]+\.[^\s@]+` split the domain at every dot: quadratic,
// ~30 s for a 96 KB address on the eSignature face.)
//
// What it accepts: a local part of 1 to 64 characters and a domain of at least two dot-separated labels of 1
// to 63 characters; no whitespace, control characters or the separators of address lists and display names
// (`<>,;:"()[]\`). Non-ASCII letters are allowed on both sides (internationalised addresses).

export const EMAIL_MAX_LENGTH = 254;

const EMAIL = new RegExp(
  '^[^\\s\\p{Cc}@<>,;:"()[\\]\\\\]{1,64}@' +
    '(?:[^\\s\\p{Cc}@<>,;:"()[\\]\\\\.]{1,63}\\.)+[^\\s\\p{Cc}@<>,;:"()[\\]\\\\.]{1,63}$',
  'u',
);

/** Whether `value` is an email address Signet accepts. Length first: O(1) for anything too long. */
export function isEmail(value: string): boolean {
  return value.length >= 3 && value.length <= EMAIL_MAX_LENGTH && EMAIL.test(value);
}

/** Why `value` is not an email address, or null when it is one (for messages that say what to fix). */
export function emailProblem(value: string): string | null {
  if (value.length > EMAIL_MAX_LENGTH) return `must be at most ${EMAIL_MAX_LENGTH} characters`;
  return isEmail(value) ? null : 'must be an email address (name@example.com)';
}
