// A delta's changed keys are sorted as JavaScript strings when none has a character past the BMP
// (where UTF-16 order is UTF-8 byte order) and as UTF-8 bytes otherwise: either way the order
// must be exactly the byte order version 3 state files promise, or the encoder refuses the file.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { sortStateEntries } from '../../src/format/index.ts';

const keyArb = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.string({ unit: 'grapheme-ascii', maxLength: 12 }),
  fc.constantFrom('\uFFFF', '\uE000', '\u{1F600}', '\u{10000}', 'a\uFFFFb', 'a\u{1F600}'),
);

test('changed keys are sorted in UTF-8 byte order, with or without characters past the BMP', () => {
  fc.assert(
    fc.property(fc.uniqueArray(keyArb, { maxLength: 40 }), (keys) => {
      const sorted = sortStateEntries(keys.map((k) => [k, Uint8Array.of(1)] as const)).map((e) => e.key);
      const expected = keys.map((k) => Buffer.from(k, 'utf8')).sort(Buffer.compare);
      assert.deepEqual(sorted, expected);
    }),
    { numRuns: 500 },
  );
});
