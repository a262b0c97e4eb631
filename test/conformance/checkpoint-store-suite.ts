/**
 * The one suite every `CheckpointStore` passes: the local file system, memory, and the object
 * store on a real radosgw. A store is only as good as what this suite demands of it: atomic
 * publish, integrity on every read, orphans never mistaken for checkpoints, ids never reused,
 * the `latest` pointer only a hint, and base/delta chains that recover to the model's state.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type CheckpointStore,
  IncrementalCheckpointManager,
  loadCheckpoint,
  loadLatestCheckpoint,
  replayStartOf,
  validateCheckpointChain,
} from '../../src/checkpoint/index.ts';
import { isTidemarkError } from '../../src/errors.ts';
import type { CheckpointFileEntry, CheckpointManifest } from '../../src/format/index.ts';
import { MemoryDirectory } from '../../src/io/index.ts';
import { replayWal, StateReplayer, WalStateStore } from '../../src/state/index.ts';
import { WriteAheadLog } from '../../src/wal/index.ts';
import { baseManifestDraft, baseStateFile } from '../helpers/checkpoint-drafts.ts';

/** How the suite reaches one kind of store. */
export interface StoreFixture {
  /** A fresh, empty store at a new location. */
  open(): Promise<CheckpointStore>;
  /** A second handle on the same location (another process would see this). */
  reopen(store: CheckpointStore): Promise<CheckpointStore>;
  /** Overwrites the stored bytes of data file `name` of checkpoint `manifest` with `bytes`. */
  overwriteDataFile(
    store: CheckpointStore,
    manifest: CheckpointManifest,
    name: string,
    bytes: Uint8Array,
  ): Promise<void>;
  /**
   * Replaces the `latest` pointer's bytes (undefined: delete it). Absent for a store that keeps
   * no pointer and names its newest manifest by listing (the object store).
   */
  writeLatestPointer?(store: CheckpointStore, bytes: Uint8Array | undefined): Promise<void>;
  /** Releases the store's resources. */
  close(store: CheckpointStore): Promise<void>;
  /** Bytes of the largest file the suite round-trips (a store with upload parts should need several). */
  largeFileBytes: number;
}

async function saveBase(
  store: CheckpointStore,
  id: number,
  entries: [string, string][],
): Promise<CheckpointManifest> {
  return store.save({
    manifest: baseManifestDraft(id),
    files: [{ role: 'base', chunks: [baseStateFile(entries)] }],
  });
}

async function rejectsWith(p: Promise<unknown>, code: string, pathPart?: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(isTidemarkError(err), `expected a TidemarkError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (pathPart !== undefined)
      assert.ok(err.path?.includes(pathPart), `path ${err.path} should name ${pathPart}`);
    return true;
  });
}

/** Registers the suite for one store kind. */
export function checkpointStoreConformance(name: string, fixture: StoreFixture): void {
  const withStore = (title: string, body: (store: CheckpointStore) => Promise<void>) =>
    test(`${name}: ${title}`, async () => {
      const store = await fixture.open();
      try {
        await body(store);
      } finally {
        await fixture.close(store);
      }
    });

  withStore('an empty store lists nothing, proposes id 1 and has no latest pointer', async (store) => {
    assert.deepEqual(await store.list(), []);
    assert.equal(await store.nextId(), 1);
    assert.equal(await store.readLatestPointer(), 'missing');
    await rejectsWith(store.loadManifest(1), 'TIDEMARK_NOT_FOUND');
    assert.deepEqual(await store.cleanupOrphans(), []);
  });

  withStore(
    'a saved checkpoint lists, reads back byte for byte from another handle, and becomes the latest',
    async (store) => {
      const state = baseStateFile([['k', 'v']]);
      const operators = Buffer.from('operator sidecar bytes');
      let seen: CheckpointManifest | undefined;
      const saved = await store.save({
        manifest: baseManifestDraft(1),
        files: [
          { role: 'base', chunks: [state.subarray(0, 7), state.subarray(7)] },
          {
            role: 'operators',
            chunks: (async function* () {
              yield operators;
            })(),
          },
        ],
        beforeCommit: (m) => {
          seen = m;
        },
      });
      assert.equal(seen, saved, 'beforeCommit sees the manifest that is committed');
      // Stores that compress pin the stored bytes (`sizeBytes`) and the content's (`uncompressedBytes`).
      assert.equal(
        saved.files.reduce((n, f) => n + (f.uncompressedBytes ?? f.sizeBytes), 0),
        state.length + operators.length,
      );
      assert.equal(
        saved.sizeBytes,
        saved.files.reduce((n, f) => n + f.sizeBytes, 0),
      );
      const other = await fixture.reopen(store);
      try {
        assert.deepEqual(await other.list(), [1]);
        assert.equal(await other.nextId(), 2);
        assert.equal(await other.readLatestPointer(), 1);
        const loaded = await other.loadManifest(1);
        assert.deepEqual(loaded, saved);
        const files = new Map(loaded.files.map((f) => [f.role, f]));
        assert.deepEqual(Buffer.from(await other.readFile(loaded, files.get('base')!)), Buffer.from(state));
        assert.deepEqual(Buffer.from(await other.readFile(loaded, files.get('operators')!)), operators);
      } finally {
        await fixture.close(other);
      }
    },
  );

  withStore('saving an id that exists is refused and the first checkpoint stays intact', async (store) => {
    const first = await saveBase(store, 1, [['k', 'first']]);
    await assert.rejects(saveBase(store, 1, [['k', 'second']]), (err: unknown) => {
      assert.ok(isTidemarkError(err));
      assert.ok(err.code === 'TIDEMARK_INVALID_ARGUMENT' || err.code === 'TIDEMARK_CONFLICT', err.code);
      return true;
    });
    const loaded = await loadCheckpoint(store, 1);
    assert.deepEqual(loaded.manifest, first);
    assert.equal(Buffer.from(loaded.state.get('k')!).toString(), 'first');
  });

  withStore(
    'a save that fails midway publishes nothing; its id is not reused and cleanupOrphans removes what it left',
    async (store) => {
      await saveBase(store, 1, [['k', 'v1']]);
      const failing = store.save({
        manifest: baseManifestDraft(2),
        files: [
          { role: 'base', chunks: [baseStateFile([['k', 'v2']])] },
          {
            role: 'operators',
            chunks: (function* () {
              yield Buffer.from('half');
              throw new Error('producer died');
            })(),
          },
        ],
      });
      await assert.rejects(failing, /producer died/);
      assert.deepEqual(await store.list(), [1], 'the half-written checkpoint is not listed');
      assert.equal(await store.readLatestPointer(), 1);
      // A store that buffers small files (the object store's CheckpointBatcher) may have stored
      // nothing of the failed save: then there is nothing to clean and nothing to mistake for
      // checkpoint 2. Whatever it did store burns the id.
      const left = (await store.nextId()) === 3;
      const removed = await store.cleanupOrphans();
      assert.equal(removed.length > 0, left, 'what was left is cleaned, and only then is the id burned');
      assert.deepEqual(await store.cleanupOrphans(), [], 'cleanup is idempotent');
      assert.equal(
        await store.nextId(),
        left ? 3 : 2,
        'nor after cleanup removed it: the id was burned first',
      );
      assert.equal(Buffer.from((await loadCheckpoint(store, 1)).state.get('k')!).toString(), 'v1');
    },
  );

  withStore(
    'a data file whose stored bytes differ from the manifest is corruption, named with its location',
    async (store) => {
      const m = await saveBase(store, 1, [['key', 'value']]);
      const entry = m.files[0]!;
      const good = await store.readFile(m, entry);
      const flipped = Buffer.from(good);
      flipped[flipped.length >> 1]! ^= 0x10;
      await fixture.overwriteDataFile(store, m, entry.name, flipped);
      await rejectsWith(store.readFile(m, entry), 'TIDEMARK_CORRUPTION', entry.name);
      await fixture.overwriteDataFile(store, m, entry.name, good.subarray(0, good.length - 1));
      await rejectsWith(store.readFile(m, entry), 'TIDEMARK_CORRUPTION', entry.name);
      const problems = await validateCheckpointChain(store, 1);
      assert.equal(problems.valid, false);
      assert.equal(problems.problems[0]?.code, 'TIDEMARK_CORRUPTION');
    },
  );

  withStore(
    'a manifest entry with the wrong size, checksum or file name is caught on read',
    async (store) => {
      const m = await saveBase(store, 1, [['key', 'value']]);
      const entry = m.files[0]!;
      const lie = (patch: Partial<CheckpointFileEntry>) => store.readFile(m, { ...entry, ...patch });
      await rejectsWith(lie({ crc32c: (entry.crc32c + 1) >>> 0 }), 'TIDEMARK_CORRUPTION');
      await rejectsWith(lie({ sizeBytes: entry.sizeBytes + 1 }), 'TIDEMARK_CORRUPTION');
      await rejectsWith(lie({ sizeBytes: entry.sizeBytes - 1 }), 'TIDEMARK_CORRUPTION');
      await rejectsWith(lie({ name: 'state.delta' }), 'TIDEMARK_CORRUPTION');
    },
  );

  withStore(
    `a ${fixture.largeFileBytes.toLocaleString('en-US')}-byte file written in uneven chunks round-trips`,
    async (store) => {
      const big = Buffer.allocUnsafe(fixture.largeFileBytes);
      for (let i = 0; i < big.length; i += 4) big.writeUInt32LE((i * 2654435761) >>> 0, i);
      const chunks = (function* () {
        for (let i = 0, step = 1; i < big.length; i += step, step = (step * 7 + 13) % 900_001) {
          yield big.subarray(i, i + step);
        }
      })();
      const m = await store.save({ manifest: baseManifestDraft(1), files: [{ role: 'operators', chunks }] });
      assert.equal(m.files[0]!.uncompressedBytes ?? m.files[0]!.sizeBytes, big.length);
      const back = await store.readFile(m, m.files[0]!);
      assert.ok(Buffer.from(back).equals(big), 'bytes differ');
    },
  );

  withStore(
    'remove deletes a checkpoint: it is no longer listed and loading it is NOT_FOUND',
    async (store) => {
      await saveBase(store, 1, [['a', '1']]);
      await saveBase(store, 2, [['a', '2']]);
      await store.remove([1]);
      assert.deepEqual(await store.list(), [2]);
      await rejectsWith(store.loadManifest(1), 'TIDEMARK_NOT_FOUND');
      assert.deepEqual(await store.cleanupOrphans(), [], 'remove leaves nothing behind');
      assert.equal(await store.nextId(), 3);
    },
  );

  const writePointer = fixture.writeLatestPointer;
  if (writePointer)
    withStore(
      'the latest pointer is a hint: missing, corrupt or stale, the newest valid checkpoint is found',
      async (store) => {
        await saveBase(store, 1, [['a', '1']]);
        await saveBase(store, 2, [['a', '2']]);
        await writePointer(store, undefined);
        assert.equal(await store.readLatestPointer(), 'missing');
        assert.equal((await loadLatestCheckpoint(store)).checkpoint?.manifest.id, 2);
        await writePointer(store, Buffer.from('garbage'));
        assert.equal(await store.readLatestPointer(), 'corrupt');
        assert.equal((await loadLatestCheckpoint(store)).checkpoint?.manifest.id, 2);
        await writePointer(store, Buffer.from('checkpoint-0000000000000001\n'));
        const latest = await loadLatestCheckpoint(store);
        assert.equal(latest.checkpoint?.manifest.id, 2, 'a stale pointer does not hide a newer checkpoint');
        assert.equal(Buffer.from(latest.checkpoint!.state.get('a')!).toString(), '2');
      },
    );

  withStore(
    'a damaged newest checkpoint is passed over for the previous one, with the reason',
    async (store) => {
      await saveBase(store, 1, [['a', '1']]);
      const m2 = await saveBase(store, 2, [['a', '2']]);
      await fixture.overwriteDataFile(store, m2, m2.files[0]!.name, Buffer.from('not a state file'));
      const latest = await loadLatestCheckpoint(store);
      assert.equal(latest.checkpoint?.manifest.id, 1);
      assert.deepEqual(
        latest.skipped.map((s) => [s.id, s.code]),
        [[2, 'TIDEMARK_CORRUPTION']],
      );
    },
  );

  withStore(
    'incremental checkpoints with compaction and retention recover to the model state',
    async (store) => {
      const walDir = new MemoryDirectory();
      const wal = await WriteAheadLog.open(walDir, { lock: false, segmentSizeBytes: 4096 });
      const writer = new WalStateStore(wal);
      const manager = new IncrementalCheckpointManager({
        store,
        wal,
        options: { maxChainLength: 2, maxRetained: 2 },
      });
      const model = new Map<string, string>();
      let seed = 7;
      const next = () => {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        return seed;
      };
      const kinds: string[] = [];
      for (let round = 0; round < 7; round++) {
        for (let i = 0; i < 40; i++) {
          const key = `k${next() % 60}`;
          if (next() % 5 === 0) {
            writer.delete(key);
            model.delete(key);
          } else {
            const value = `r${round}-${next() % 1000}`;
            writer.put(key, Buffer.from(value));
            model.set(key, value);
          }
        }
        kinds.push((await manager.createCheckpoint(writer.advanceEpoch())).kind);
      }
      writer.put('after', Buffer.from('wal only'));
      model.set('after', 'wal only');
      await wal.close();
      assert.ok(kinds.includes('delta') && kinds.filter((k) => k === 'base').length >= 2, kinds.join(','));
      assert.ok((await store.list()).length <= 2 + 2, 'retention keeps the retained chains only');

      const latest = await loadLatestCheckpoint(store);
      assert.equal(latest.skipped.length, 0);
      const target = replayStartOf(latest.checkpoint);
      await replayWal(walDir, new StateReplayer(target, false), { fromLsn: target.lsn + 1 });
      const recovered = Object.fromEntries([...target.state].map(([k, v]) => [k, Buffer.from(v).toString()]));
      assert.deepEqual(recovered, Object.fromEntries(model));
      for (const id of await store.list())
        assert.equal((await validateCheckpointChain(store, id)).valid, true);
    },
  );
}
