// Writes src/core/auth/common-passwords.txt: the 10,000 most common passwords of at least 8 characters (the
// shortest min_length a password_policy allows, so shorter ones can never pass anyway), most common first,
// from the frequency-ranked password list zxcvbn-ts ships (@zxcvbn-ts/language-common, MIT; built from
// public breach corpora). Signet reads the file at run time and looks nothing up over the network
// (docs/people-and-sessions.md, "Password policy"). Run after upgrading the package:
//   node --import tsx scripts/common-passwords.ts
import { writeFileSync } from 'node:fs';
import { dictionary } from '@zxcvbn-ts/language-common';

const COUNT = 10_000;
const MIN_LENGTH = 8;
const ranked = dictionary['passwords-common'] as string[];
const seen = new Set<string>();
for (const p of ranked) {
  const lower = p.toLowerCase();
  if (lower.length >= MIN_LENGTH && !/\s/.test(lower)) seen.add(lower);
  if (seen.size === COUNT) break;
}
if (seen.size !== COUNT) throw new Error(`only ${seen.size} passwords of ${MIN_LENGTH}+ characters`);
writeFileSync(new URL('../src/core/auth/common-passwords.txt', import.meta.url), `${[...seen].join('\n')}\n`);
console.log(`wrote ${seen.size} passwords`);
