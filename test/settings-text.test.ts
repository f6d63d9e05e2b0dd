import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CATALOGUE } from '../src/core/settings/catalogue.ts';
import { FLAT_SETTINGS, flatValue, settingFromText, settingText } from '../src/core/settings/text.ts';

// The one settings text codec serves the eSignature face, exports and settings imports: what it writes, it
// reads back as the same value, for every setting of the catalogue.
test('every setting round-trips through its text form', () => {
  const defaults = Object.fromEntries(CATALOGUE.map((s) => [s.key, s.default])) as Record<string, unknown>;
  for (const f of FLAT_SETTINGS) {
    const value = flatValue(defaults, f);
    const parsed = settingFromText(f, settingText(value));
    assert.ok('value' in parsed, f.path);
    assert.deepEqual(parsed.value, value, f.path);
  }
});

test('text read by hand: booleans in any case, lenient lists, refused numbers, JSON lists of older exports', () => {
  const at = (path: string) => FLAT_SETTINGS.find((f) => f.path === path)!;
  assert.deepEqual(settingFromText(at('mfa_required'), ' True '), { value: true });
  assert.ok('error' in settingFromText(at('mfa_required'), 'yes'));
  assert.deepEqual(settingFromText(at('mfa_required'), 'FALSE'), { value: false });
  assert.deepEqual(settingFromText(at('allowed_signature_types'), 'drawn; typed'), {
    value: ['drawn', 'typed'],
  });
  assert.deepEqual(settingFromText(at('allowed_signature_types'), '["typed"]'), { value: ['typed'] });
  assert.ok('error' in settingFromText(at('password_policy.min_length'), '12abc'));
  assert.ok('error' in settingFromText(at('password_policy.min_length'), '9'.repeat(40)));
  assert.ok('error' in settingFromText(at('mfa_required'), 'maybe'));
});
