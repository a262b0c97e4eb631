// The loader of whole version 3 state files compares each key with the one before in place
// (short keys byte by byte, long ones natively): both ways must accept every increasing order —
// a key that is a prefix of the next included — and refuse a repeated or decreasing key with the
// path and the offset of the entry, as the streaming reader does.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  crc32c,
  decodeStateFile,
  encodeStateFile,
  maskCrc32c,
  STATE_BLOCK_HEADER_SIZE,
  STATE_FILE_HEADER_SIZE,
  StateFileKind,
} from '../../src/format/index.ts';

/** A valid v3 base of two same-length keys whose second key is then overwritten, every CRC recomputed. */
function rewrittenSecondKey(first: string, second: string, replacement: string) {
  assert.equal(second.length, replacement.length);
  const file = Buffer.from(
    encodeStateFile(StateFileKind.Base, 2, [
      [first, Uint8Array.of(1)],
      [second, Uint8Array.of(2)],
    ]),
  );
  const firstAt = STATE_FILE_HEADER_SIZE + STATE_BLOCK_HEADER_SIZE;
  const secondAt = firstAt + 8 + first.length + 1;
  assert.equal(file.toString('latin1', secondAt + 8, secondAt + 8 + second.length), second);
  file.write(replacement, secondAt + 8, 'latin1');
  const blockEnd = secondAt + 8 + second.length + 1;
  file.writeUInt32LE(maskCrc32c(crc32c(file, STATE_FILE_HEADER_SIZE, blockEnd)), blockEnd);
  file.writeUInt32LE(maskCrc32c(crc32c(file, 0, file.length - 4)), file.length - 4);
  return { file, secondAt };
}

for (const width of [12, 200]) {
  const key = (c: string) => `${'p'.repeat(width - 1)}${c}`;

  test(`a whole v3 state file with ${width}-byte keys repeated or decreasing is TIDEMARK_CORRUPTION naming the entry`, () => {
    for (const replacement of [key('b'), key('a')]) {
      const { file, secondAt } = rewrittenSecondKey(key('b'), key('c'), replacement);
      assert.throws(() => decodeStateFile(file, '/ckpt/state.base'), {
        code: 'TIDEMARK_CORRUPTION',
        path: '/ckpt/state.base',
        offset: secondAt,
        message: /not strictly increasing/,
      });
    }
  });

  test(`a whole v3 state file with ${width}-byte keys in increasing order loads every key, prefixes included`, () => {
    const keys = [key('a'), `${key('a')}x`, key('b'), `${key('b')}\u00e9`, key('c')];
    const file = encodeStateFile(
      StateFileKind.Base,
      keys.length,
      keys.map((k, i) => [k, Uint8Array.of(i)] as const),
    );
    const { state } = decodeStateFile(file, '/ckpt/state.base');
    assert.deepEqual(
      [...state].map(([k, v]) => [k, v![0]]),
      keys.map((k, i) => [k, i]),
    );
  });
}
