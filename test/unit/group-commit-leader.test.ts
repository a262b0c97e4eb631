import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StateOp } from '../../src/format/constants.ts';
import type { PayloadEncoder } from '../../src/format/entry-codec.ts';
import { FsDirectory } from '../../src/io/index.ts';
import { openChangelogAwareStore } from '../../src/pipeline/index.ts';
import { RecoveryManager } from '../../src/recovery/index.ts';
import { WriteAheadLog } from '../../src/wal/index.ts';
import { tmpDir } from '../helpers/tmp.ts';

/** A long delay: anything that waits for the timer shows up as ≥ 1 s. */
const LONG_DELAY_MS = 1000;
/** Far below the delay even on a loaded machine, far above one sync. */
const FAST_MS = 400;

function bytes(n: number, seed: number): PayloadEncoder {
  return {
    recordType: StateOp.Put,
    byteLength: n,
    encodeInto(buf, offset) {
      buf.fill(seed & 0xff, offset, offset + n);
    },
  };
}

const value = Buffer.alloc(200, 7);

async function commitLoops(
  concurrency: number,
  perLoop: number,
  commitOnce: (loop: number, i: number) => Promise<void>,
): Promise<void> {
  await Promise.all(
    Array.from({ length: concurrency }, async (_, loop) => {
      for (let i = 0; i < perLoop; i++) await commitOnce(loop, i);
    }),
  );
}

test('on an idle WAL an awaited record is durable without waiting for groupCommitDelayMs, and flushed() costs what sync() costs', async () => {
  const wal = await WriteAheadLog.open(await FsDirectory.open(tmpDir('gc-idle')), {
    groupCommitDelayMs: LONG_DELAY_MS,
  });
  try {
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      const lsn = wal.append(bytes(200, i));
      await wal.flushed(lsn);
      const ms = performance.now() - t0;
      assert.ok(ms < FAST_MS, `flushed() took ${ms.toFixed(1)} ms with a ${LONG_DELAY_MS} ms delay`);
      assert.equal(wal.durableLsn, lsn);
    }
    assert.equal(wal.stats().groupsCommitted, 5, 'one group per awaited commit at concurrency 1');
  } finally {
    await wal.close();
  }
});

test('a record nobody awaits is still written by the delay timer, and whenDurable() does not hurry it', async () => {
  const wal = await WriteAheadLog.open(await FsDirectory.open(tmpDir('gc-unawaited')), {
    groupCommitDelayMs: 300,
  });
  try {
    const t0 = performance.now();
    const lsn = wal.append(bytes(100, 1));
    const watched = wal.whenDurable(lsn);
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(wal.durableLsn < lsn, 'whenDurable() alone made the group leave before the delay');
    await watched;
    const ms = performance.now() - t0;
    assert.ok(ms >= 290, `written after ${ms.toFixed(1)} ms, before the 300 ms delay`);
    assert.equal(wal.durableLsn, lsn);
  } finally {
    await wal.close();
  }
});

test('commits awaited while a write is in flight share the next group instead of one sync each (WAL)', async () => {
  const wal = await WriteAheadLog.open(await FsDirectory.open(tmpDir('gc-wal-groups')), {
    groupCommitDelayMs: LONG_DELAY_MS,
  });
  try {
    const t0 = performance.now();
    const commits = 32 * 20;
    await commitLoops(32, 20, async (loop, i) => {
      await wal.flushed(wal.append(bytes(200, loop + i)));
    });
    const stats = wal.stats();
    assert.equal(wal.durableLsn, commits);
    assert.ok(
      stats.groupsCommitted <= commits / 4,
      `${stats.groupsCommitted} groups for ${commits} concurrent commits`,
    );
    assert.ok(stats.maxGroupRecords >= 16, `largest group ${stats.maxGroupRecords} records`);
    // 20 rounds; a round that waited for the timer would take 1 s.
    assert.ok(performance.now() - t0 < 20 * FAST_MS);
  } finally {
    await wal.close();
  }
});

test('the simple store: put + commit + await flushed() on an idle disk does not wait for groupCommitDelayMs, and concurrent commits share groups', async () => {
  const opened = await new RecoveryManager({
    dir: tmpDir('gc-simple'),
    wal: { groupCommitDelayMs: LONG_DELAY_MS },
  }).open();
  try {
    const { store } = opened;
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      store.put(`solo${i}`, value);
      await store.flushed(store.commit({ src: i + 1 }));
      const ms = performance.now() - t0;
      assert.ok(ms < FAST_MS, `commit took ${ms.toFixed(1)} ms with a ${LONG_DELAY_MS} ms delay`);
    }
    const before = store.wal.stats().groupsCommitted;
    const commits = 32 * 10;
    let offset = 100;
    await commitLoops(32, 10, async (loop, i) => {
      store.put(`k${loop}-${i}`, value);
      await store.flushed(store.commit({ src: ++offset }));
    });
    const groups = store.wal.stats().groupsCommitted - before;
    assert.ok(groups <= commits / 4, `${groups} groups for ${commits} concurrent commits`);
  } finally {
    await opened.close();
  }
});

test('the changelog-aware store: put + commit + await flushed(seq) on an idle disk does not wait for groupCommitDelayMs, and concurrent commits share groups', async () => {
  const { store } = await openChangelogAwareStore({
    dir: tmpDir('gc-ring'),
    wal: { groupCommitDelayMs: LONG_DELAY_MS },
  });
  try {
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      store.put(`solo${i}`, value);
      await store.flushed(store.commit({ src: i + 1 }));
      const ms = performance.now() - t0;
      assert.ok(ms < FAST_MS, `flushed(seq) took ${ms.toFixed(1)} ms with a ${LONG_DELAY_MS} ms delay`);
    }
    const before = store.stats().walGroupsCommitted;
    const commits = 32 * 10;
    let offset = 100;
    await commitLoops(32, 10, async (loop, i) => {
      store.put(`k${loop}-${i}`, value);
      await store.flushed(store.commit({ src: ++offset }));
    });
    await store.durable();
    const groups = store.stats().walGroupsCommitted - before;
    assert.ok(groups <= commits / 4, `${groups} groups for ${commits} concurrent commits`);
  } finally {
    await store.close();
  }
});
