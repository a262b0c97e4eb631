import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { decodeEntry } from '../../src/format/index.ts';
import { FsDirectory } from '../../src/io/index.ts';
import { WalReader } from '../../src/wal/index.ts';
import { runAndKill } from '../helpers/kill-child.ts';
import { payloadFor, tmpDir } from '../helpers/tmp.ts';

const CHILD = fileURLToPath(new URL('../helpers/wal-writer-child.ts', import.meta.url));
const ROUNDS = Number(process.env.TIDEMARK_CRASH_ROUNDS ?? 50);
const SEED = Number(process.env.TIDEMARK_SEED ?? Date.now() % 1_000_000);

test(`SIGKILL at random times over ${ROUNDS} rounds loses no acknowledged record and leaves a gap-free prefix (seed ${SEED})`, async () => {
  const dir = tmpDir('sigkill');
  let seed = SEED;
  const rand = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  let acknowledged = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const { maxAck, openedAt } = await runAndKill(
      CHILD,
      [dir, String(Math.floor(rand() * 1e9))],
      5 + Math.floor(rand() * 120),
    );
    assert.ok(
      openedAt >= acknowledged,
      `round ${round}: reopened at ${openedAt}, below acknowledged ${acknowledged}`,
    );
    acknowledged = Math.max(acknowledged, maxAck);
    let expected = 1;
    const stats = await WalReader.read(await FsDirectory.open(dir), { fromLsn: 1 }, (record) => {
      const { lsn } = record;
      assert.equal(lsn, expected, `round ${round}: hole or duplicate at LSN ${lsn}`);
      const e = decodeEntry(record);
      assert.ok(
        e.type === 'put' && e.key === `k${lsn}` && Buffer.from(e.value).equals(payloadFor(lsn)),
        `round ${round}: record ${lsn} is what was written`,
      );
      expected++;
    });
    assert.ok(
      stats.lastLsn >= acknowledged,
      `round ${round} (seed ${SEED}): acknowledged ${acknowledged} but only ${stats.lastLsn} recovered`,
    );
  }
  assert.ok(acknowledged > ROUNDS, 'the writer made progress');
});
