/**
 * The StateStore read API (get, has, size, sizeBytes, prefixScan, rangeScan, snapshot) on both
 * engines — `RecoveryManager.open()`'s store and the changelog-aware store — with both state
 * backends, the per-core recovered state, and the slab store's bulk-load path.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FileSystemCheckpointStore } from '../../src/checkpoint/index.ts';
import { MemoryDirectory } from '../../src/io/index.ts';
import { openChangelogAwareStore } from '../../src/pipeline/index.ts';
import { RecoveryManager, recoverPerCore } from '../../src/recovery/index.ts';
import {
  compareUtf8,
  createStateBackend,
  MapStateBackend,
  SlabStore,
  type StateBackendKind,
  type StateScan,
  type StateSnapshot,
} from '../../src/state/index.ts';
import { CoreWalWriter } from '../../src/wal/index.ts';
import { tmpDir } from '../helpers/tmp.ts';

const v = (s: string) => Buffer.from(s);
const str = (x: Uint8Array | undefined) => (x === undefined ? undefined : Buffer.from(x).toString());
const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));
const keysOf = (scan: Iterable<[string, Uint8Array]>) => [...scan].map(([k]) => k);

/** What both engines offer for reading (and what the tests write through). */
interface Store {
  put(key: string, value: Uint8Array): number;
  delete(key: string): number;
  get(key: unknown): Uint8Array | undefined;
  has(key: unknown): boolean;
  readonly size: number;
  readonly sizeBytes: number;
  prefixScan(prefix: unknown, options?: unknown): StateScan;
  rangeScan(start: unknown, end: unknown, options?: unknown): StateScan;
  snapshot(): StateSnapshot;
  entries(): StateScan;
  durable(): Promise<void>;
}

interface Engine {
  name: string;
  open(dir: string, stateBackend: StateBackendKind): Promise<{ store: Store; close(): Promise<void> }>;
}

const engines: Engine[] = [
  {
    name: 'simple store',
    async open(dir, stateBackend) {
      const opened = await new RecoveryManager({ dir, stateBackend }).open();
      return { store: opened.store as unknown as Store, close: () => opened.close() };
    },
  },
  {
    name: 'changelog store',
    async open(dir, stateBackend) {
      const { store } = await openChangelogAwareStore({ dir, stateBackend });
      return { store: store as unknown as Store, close: () => store.close() };
    },
  },
];

// BMP above the surrogates, astral, accented, and prefixes of one another: JavaScript's `<`
// puts '\u{1F600}' before '\uE000' and '\uFFFF'; UTF-8 byte order puts it after them.
const KEYS = ['b', 'a', 'ab', 'abc', '\uFFFF', '\u{1F600}', '\uE000', 'é', 'a\u{10000}', 'a\uFFFD', 'aa', ''];

for (const engine of engines) {
  for (const backend of ['slab', 'map'] as const) {
    const label = `${engine.name}, ${backend} backend`;

    test(`${label}: scans return keys in UTF-8 byte order (astral keys after U+FFFF), bounded by prefix, range and limit, with for…of and for await…of`, async () => {
      const { store, close } = await engine.open(tmpDir('api'), backend);
      try {
        for (const k of KEYS) store.put(k, v(`v:${k}`));
        const sorted = [...KEYS].sort(byteOrder);
        assert.deepEqual(sorted.slice(-3), ['\uE000', '\uFFFF', '\u{1F600}']);
        assert.deepEqual(keysOf(store.rangeScan(undefined, undefined)), sorted);
        assert.deepEqual(keysOf(store.entries()), sorted);
        assert.deepEqual(
          keysOf(store.rangeScan('a', 'b')),
          sorted.filter((k) => byteOrder(k, 'a') >= 0 && byteOrder(k, 'b') < 0),
          'start inclusive, end exclusive',
        );
        assert.deepEqual(keysOf(store.rangeScan('\uFFFF', undefined)), ['\uFFFF', '\u{1F600}']);
        assert.deepEqual(keysOf(store.rangeScan('b', 'a')), [], 'end before start: empty');
        assert.deepEqual(keysOf(store.rangeScan(undefined, undefined, { limit: 3 })), sorted.slice(0, 3));
        assert.deepEqual(keysOf(store.rangeScan(undefined, undefined, { limit: 0 })), []);
        assert.deepEqual(keysOf(store.prefixScan('a')), ['a', 'aa', 'ab', 'abc', 'a\uFFFD', 'a\u{10000}']);
        assert.deepEqual(keysOf(store.prefixScan('a', { limit: 2 })), ['a', 'aa']);
        assert.deepEqual(keysOf(store.prefixScan('ab')), ['ab', 'abc']);
        assert.deepEqual(keysOf(store.prefixScan('zz')), []);
        const viaAwait: [string, string | undefined][] = [];
        for await (const [k, val] of store.prefixScan('a')) viaAwait.push([k, str(val)]);
        assert.deepEqual(
          viaAwait,
          ['a', 'aa', 'ab', 'abc', 'a\uFFFD', 'a\u{10000}'].map((k) => [k, `v:${k}`]),
        );
        // compareUtf8 (the map backend's order) agrees with the bytes on every pair.
        for (const a of KEYS)
          for (const b of KEYS) assert.equal(Math.sign(compareUtf8(a, b)), Math.sign(byteOrder(a, b)));
      } finally {
        await close();
      }
    });

    test(`${label}: get, has, size and sizeBytes follow puts and deletes, and a value read stays as it was after the key is overwritten`, async () => {
      const { store, close } = await engine.open(tmpDir('api'), backend);
      try {
        store.put('k1', v('one'));
        store.put('k2', v('two'));
        store.put('\u{1F600}', v('smile'));
        assert.equal(store.size, 3);
        assert.equal(store.sizeBytes, 2 + 3 + 2 + 3 + 4 + 5);
        assert.equal(store.has('k1'), true);
        assert.equal(store.has('nope'), false);
        assert.equal(store.get('nope'), undefined);
        const before = store.get('k1')!;
        const scanned = [...store.prefixScan('k1')][0]![1];
        store.put('k1', v('ONE')); // same length: the slab backend may rewrite in place
        assert.equal(str(before), 'one', 'a value returned by get() is not changed by a later write');
        assert.equal(str(scanned), 'one', 'a value returned by a scan is not changed by a later write');
        assert.equal(str(store.get('k1')), 'ONE');
        store.delete('k2');
        assert.equal(store.has('k2'), false);
        assert.equal(store.size, 2);
        assert.equal(store.sizeBytes, 2 + 3 + 4 + 5);
        await store.durable();
      } finally {
        await close();
      }
    });

    test(`${label}: a snapshot keeps reading the state as it was while writes go on, until released (also by using)`, async () => {
      const { store, close } = await engine.open(tmpDir('api'), backend);
      try {
        const key = (i: number) => `key:${String(i).padStart(4, '0')}`;
        for (let i = 0; i < 600; i++) store.put(key(i), v(`a${i}`));
        const expected = [...store.entries()].map(([k, val]) => [k, str(val)]);
        const bytes = store.sizeBytes;
        const snap = store.snapshot();
        const scanDuring = snap.rangeScan(key(100), key(300));
        const firstOfScan = scanDuring.next().value![0];
        for (let i = 0; i < 600; i += 2) store.put(key(i), v(`b${i}`)); // same length and longer
        for (let i = 1; i < 600; i += 3) store.delete(key(i));
        for (let i = 600; i < 700; i++) store.put(key(i), v(`c${i}`));
        assert.equal(snap.size, 600);
        assert.equal(snap.sizeBytes, bytes);
        assert.equal(str(snap.get(key(0))), 'a0');
        assert.equal(snap.has(key(1)), true);
        assert.equal(snap.has(key(650)), false);
        assert.deepEqual(
          [...snap.entries()].map(([k, val]) => [k, str(val)]),
          expected,
        );
        assert.equal(firstOfScan, key(100));
        assert.deepEqual(
          keysOf(scanDuring),
          Array.from({ length: 199 }, (_, i) => key(101 + i)),
          'a snapshot scan started before the writes sees no write',
        );
        let viaAwait = 0;
        for await (const _ of snap.prefixScan('key:00')) viaAwait++;
        assert.equal(viaAwait, 100);
        assert.equal(str(store.get(key(0))), 'b0', 'the live store sees the writes');
        assert.equal(store.has(key(1)), false);
        snap.release();
        snap.release(); // idempotent
        assert.throws(() => snap.get(key(0)), { code: 'TIDEMARK_CLOSED' });
        assert.throws(() => [...snap.entries()], { code: 'TIDEMARK_CLOSED' });

        let kept: StateSnapshot;
        {
          using s = store.snapshot();
          kept = s;
          store.put(key(0), v('after'));
          assert.equal(str(s.get(key(0))), 'b0');
        }
        assert.throws(() => kept.has(key(0)), { code: 'TIDEMARK_CLOSED' }, 'using released it');
      } finally {
        await close();
      }
    });

    test(`${label}: reads refuse malformed arguments with TIDEMARK_INVALID_ARGUMENT`, async () => {
      const { store, close } = await engine.open(tmpDir('api'), backend);
      try {
        store.put('k', v('x'));
        const bad = { code: 'TIDEMARK_INVALID_ARGUMENT' };
        assert.throws(() => store.get(1), bad);
        assert.throws(() => store.get('\uD800'), bad, 'a lone surrogate');
        assert.throws(() => store.has(undefined), bad);
        assert.throws(() => store.prefixScan(5), bad);
        assert.throws(() => store.prefixScan('k', { limit: -1 }), bad);
        assert.throws(() => store.prefixScan('k', { limit: 1.5 }), bad);
        assert.throws(() => store.rangeScan(1, 'z'), bad);
        assert.throws(() => store.rangeScan('a', {}), bad);
        assert.throws(() => store.rangeScan('a', 'z', { limit: 'all' }), bad);
        const snap = store.snapshot();
        assert.throws(() => snap.get(null as never), bad);
        assert.throws(() => snap.rangeScan(undefined, 7 as never), bad);
        snap.release();
        assert.equal(str(store.get('k')), 'x');
      } finally {
        await close();
      }
    });
  }
}

test('an unknown stateBackend is refused by both openers and by per-core recovery before anything is created', async () => {
  const dir = `${tmpDir('api')}/never`;
  const bad = { code: 'TIDEMARK_INVALID_ARGUMENT' };
  assert.throws(() => new RecoveryManager({ dir, stateBackend: 'btree' as never }), bad);
  await assert.rejects(openChangelogAwareStore({ dir, stateBackend: 7 as never }), bad);
  await assert.rejects(
    recoverPerCore({
      walRoot: new MemoryDirectory(),
      store: new FileSystemCheckpointStore(new MemoryDirectory()),
      cores: 1,
      stateBackend: 'tree' as never,
    }),
    bad,
  );
  const fs = await import('node:fs');
  assert.equal(fs.existsSync(dir), false);
});

test('a state checkpointed with one backend recovers into either, from a sorted base and from keys out of order', async () => {
  const dir = tmpDir('api');
  const opened = await new RecoveryManager({ dir, stateBackend: 'map' }).open();
  for (let i = 0; i < 3000; i++) opened.store.put(`k${String(i).padStart(5, '0')}`, v(`v${i}`));
  for (let i = 0; i < 3000; i += 7) opened.store.delete(`k${String(i).padStart(5, '0')}`);
  await opened.checkpoint(); // a base
  for (let i = 2999; i >= 2000; i--) opened.store.put(`k${String(i).padStart(5, '0')}`, v(`w${i}`)); // descending
  opened.store.put('a-first', v('x'));
  await opened.checkpoint(); // a delta, keys out of order
  opened.store.put('\u{1F600}', v('tail')); // WAL only
  await opened.store.durable();
  const expected = [...opened.store.entries()].map(([k, val]) => [k, str(val)]);
  await opened.close();
  for (const stateBackend of ['slab', 'map'] as const) {
    const r = await new RecoveryManager({ dir, stateBackend }).recover();
    assert.equal(r.state.kind, stateBackend);
    assert.deepEqual(
      [...r.state].map(([k, val]) => [k, str(val)]),
      expected,
    );
    assert.deepEqual(
      keysOf(r.state.prefixScan('k0199')),
      expected.map(([k]) => k!).filter((k) => k.startsWith('k0199')),
    );
    assert.equal(r.state.has('k01995'), false, 'deleted before the base');
  }
});

test('the per-core recovered state offers get, has, size and ordered scans', async () => {
  const walRoot = new MemoryDirectory();
  const store = new FileSystemCheckpointStore(new MemoryDirectory());
  const w = await CoreWalWriter.open(walRoot, 0);
  w.appendEpochBarrier(1);
  for (const k of ['b', 'a', '\u{1F600}', '\uFFFF']) w.appendPut(k, v(k));
  w.appendDelete('b');
  await w.sync();
  await w.close();
  for (const stateBackend of ['slab', 'map'] as const) {
    const r = await recoverPerCore({ walRoot, store, cores: 1, stateBackend });
    assert.equal(r.state.size, 3);
    assert.equal(r.state.has('b'), false);
    assert.equal(str(r.state.get('a')), 'a');
    assert.deepEqual(keysOf(r.state.rangeScan(undefined, undefined)), ['a', '\uFFFF', '\u{1F600}']);
  }
});

test('the slab store loads ascending keys by appending, and stays a correct tree when a key out of order, a delete or a snapshot ends that', () => {
  const key = (i: number) => `k${String(i).padStart(7, '0')}`;
  for (const breaker of ['out-of-order', 'overwrite', 'delete', 'snapshot'] as const) {
    const s = new SlabStore({ minSlabBytes: 4096, maxSlabBytes: 65536 });
    const model = new Map<string, string>();
    const put = (k: string, val: string) => {
      s.put(k, v(val));
      model.set(k, val);
    };
    for (let i = 0; i < 70_000; i += 2) put(key(i), `a${i}`); // several levels of pages
    let snap: StateSnapshot | undefined;
    if (breaker === 'out-of-order') put(key(1), 'odd');
    if (breaker === 'overwrite') put(key(40), 'again');
    if (breaker === 'delete') {
      s.delete(key(10));
      model.delete(key(10));
    }
    if (breaker === 'snapshot') snap = s.snapshot();
    for (let i = 1; i < 70_000; i += 2) put(key(i), `b${i}`); // interleaved: ordinary inserts
    for (let i = 0; i < 70_000; i += 3) {
      s.delete(key(i));
      model.delete(key(i));
    }
    const expected = [...model].sort(([a], [b]) => byteOrder(a, b));
    assert.equal(s.size, model.size, breaker);
    assert.deepEqual(
      [...s.entries()].map(([k, val]) => [k, str(val)]),
      expected,
      breaker,
    );
    for (let i = 0; i < 70_000; i += 997) assert.equal(str(s.get(key(i))), model.get(key(i)), breaker);
    if (snap) {
      assert.equal(snap.size, 35_000);
      assert.deepEqual(keysOf(snap.rangeScan(undefined, undefined, { limit: 3 })), [key(0), key(2), key(4)]);
      snap.release();
    }
  }
});

test('createStateBackend and MapStateBackend give the same answers as the slab store', () => {
  const map = createStateBackend('map');
  assert.ok(map instanceof MapStateBackend);
  const slab = createStateBackend();
  assert.ok(slab instanceof SlabStore);
  for (const s of [map, slab]) for (const k of KEYS) s.put(k, v(k));
  assert.deepEqual(keysOf(map), keysOf(slab));
  assert.deepEqual([...map.keys()], [...slab.keys()]);
  assert.equal(map.sizeBytes, slab.sizeBytes);
});
