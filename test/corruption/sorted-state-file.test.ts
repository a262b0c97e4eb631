// Version 3 state files promise keys in strictly increasing UTF-8 byte order; a merge trusts that
// promise, so a file breaking it (with every checksum right) must be refused, not merged wrongly.
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
  StateFileStreamReader,
} from '../../src/format/index.ts';

/** A valid v3 base with keys "a1", "a2" whose two keys are then swapped, every CRC recomputed. */
function swappedKeysFile(): { file: Buffer; secondEntryOffset: number } {
  const file = Buffer.from(
    encodeStateFile(StateFileKind.Base, 2, [
      ['a1', Uint8Array.of(1)],
      ['a2', Uint8Array.of(2)],
    ]),
  );
  const first = STATE_FILE_HEADER_SIZE + STATE_BLOCK_HEADER_SIZE; // entry: 8 + 2 key + 1 value
  const second = first + 11;
  assert.equal(file.toString('utf8', first + 8, first + 10), 'a1');
  file.write('a2', first + 8, 'utf8');
  file.write('a1', second + 8, 'utf8');
  const blockEnd = second + 11;
  file.writeUInt32LE(maskCrc32c(crc32c(file, STATE_FILE_HEADER_SIZE, blockEnd)), blockEnd);
  file.writeUInt32LE(maskCrc32c(crc32c(file, 0, file.length - 4)), file.length - 4);
  return { file, secondEntryOffset: second };
}

test('a v3 state file whose keys are not strictly increasing is TIDEMARK_CORRUPTION naming the path and the offset of the entry', () => {
  const { file, secondEntryOffset } = swappedKeysFile();
  assert.throws(() => decodeStateFile(file, '/ckpt/state.base'), {
    code: 'TIDEMARK_CORRUPTION',
    path: '/ckpt/state.base',
    offset: secondEntryOffset,
  });
});

test('the streaming reader refuses the same out-of-order v3 file with the same path and offset', async () => {
  const { file, secondEntryOffset } = swappedKeysFile();
  async function* chunks() {
    for (let i = 0; i < file.length; i += 7) yield file.subarray(i, i + 7);
  }
  const reader = new StateFileStreamReader(chunks(), '/ckpt/state.base');
  await assert.rejects(
    async () => {
      while (await reader.nextBlock()) {}
    },
    { code: 'TIDEMARK_CORRUPTION', path: '/ckpt/state.base', offset: secondEntryOffset },
  );
});

test('the streaming reader reads a v3 file cut into odd chunks back in key order, and refuses a flipped bit in a block', async () => {
  const entries: [string, Uint8Array][] = [];
  for (let i = 0; i < 5000; i++) entries.push([`k${(i * 7919) % 5000}`, Buffer.alloc(300, i % 251)]);
  const file = encodeStateFile(StateFileKind.Base, entries.length, entries);
  async function* chunks(bytes: Buffer) {
    for (let i = 0; i < bytes.length; i += 65_537) yield bytes.subarray(i, i + 65_537);
  }
  const reader = new StateFileStreamReader(chunks(file), 'f');
  const keys: string[] = [];
  let blocks = 0;
  for (let b = await reader.nextBlock(); b; b = await reader.nextBlock()) {
    blocks++;
    for (const k of b.keys) keys.push(k.toString());
  }
  assert.ok(blocks > 1, 'a 1.5 MB file is more than one block');
  assert.deepEqual(keys, [...entries.map((e) => e[0])].sort());
  assert.equal(reader.info?.entries, 5000);
  const damaged = Buffer.from(file);
  damaged[200_000]! ^= 1;
  const bad = new StateFileStreamReader(chunks(damaged), 'f');
  await assert.rejects(
    async () => {
      while (await bad.nextBlock()) {}
    },
    { code: 'TIDEMARK_CORRUPTION', offset: STATE_FILE_HEADER_SIZE },
  );
});
