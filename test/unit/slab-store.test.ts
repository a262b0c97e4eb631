// SlabStore: the compact, ordered, in-memory state backend (src/state/slab-store.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isTidemarkError } from '../../src/errors.ts';
import { SlabStore } from '../../src/state/index.ts';

const bytes = (s: string) => Buffer.from(s, 'utf8');
const utf8Order = (a: string, b: string) => Buffer.compare(bytes(a), bytes(b));
const keysOf = (it: Iterable<[string, Uint8Array]>) => [...it].map(([k]) => k);
/** Small slabs and steps, so that a few thousand writes exercise many slabs and compactions. */
const small = () =>
  new SlabStore({ minSlabBytes: 4096, maxSlabBytes: 16384, compaction: { stepBytes: 512 } });

test('put, get, has, delete, size and sizeBytes agree with what was written', () => {
  const s = new SlabStore();
  assert.equal(s.size, 0);
  s.put('a', bytes('one'));
  s.put('bb', bytes('two'));
  s.put('', new Uint8Array(0));
  assert.equal(s.size, 3);
  assert.equal(s.sizeBytes, 1 + 3 + 2 + 3);
  assert.deepEqual(s.get('a'), bytes('one'));
  assert.deepEqual(s.get(''), Buffer.alloc(0));
  assert.equal(s.get('missing'), undefined);
  assert.equal(s.has('bb'), true);
  s.put('a', bytes('longer value'));
  assert.deepEqual(s.get('a'), bytes('longer value'));
  assert.equal(s.sizeBytes, 1 + 12 + 2 + 3);
  assert.equal(s.delete('bb'), true);
  assert.equal(s.delete('bb'), false);
  assert.equal(s.has('bb'), false);
  assert.equal(s.size, 2);
  assert.equal(s.sizeBytes, 1 + 12);
});

test('a value returned by get is a copy that later puts (even in place) and the caller cannot change', () => {
  const s = new SlabStore();
  const input = Buffer.from([1, 2, 3, 4]);
  s.put('k', input);
  input[0] = 99; // the store copied it
  const got = s.get('k')!;
  assert.deepEqual([...got], [1, 2, 3, 4]);
  s.put('k', Buffer.from([5, 6, 7, 8])); // same length: rewritten in place
  assert.deepEqual([...got], [1, 2, 3, 4]);
  got[1] = 42;
  assert.deepEqual([...s.get('k')!], [5, 6, 7, 8]);
});

test('scans order keys by UTF-8 bytes (code points), not by JS UTF-16 comparison, for astral keys', () => {
  const s = new SlabStore();
  const keys = ['\u{1F600}', '\uFFFF', '\uE000', 'z', 'é', 'a', '\u{10000}', 'a\u{1F600}', 'a\uFFFF', ''];
  for (const k of keys) s.put(k, bytes(k));
  const expected = ['', 'a', 'a\uFFFF', 'a\u{1F600}', 'z', 'é', '\uE000', '\uFFFF', '\u{10000}', '\u{1F600}'];
  assert.deepEqual([...keys].sort(utf8Order), expected);
  assert.deepEqual(keysOf(s.entries()), expected);
  // JS `<` puts the astral (surrogate pair D83D DE00) before U+FFFF; this order does not.
  assert.ok('\u{1F600}' < '\uFFFF');
  assert.deepEqual(keysOf(s.rangeScan('\uFFFF', '\u{1F600}')), ['\uFFFF', '\u{10000}']);
  assert.deepEqual(keysOf(s.prefixScan('a')), ['a', 'a\uFFFF', 'a\u{1F600}']);
  for (const k of keys) assert.deepEqual(s.get(k), bytes(k));
});

test('a key with a lone surrogate is refused rather than merged with U+FFFD', () => {
  const s = new SlabStore();
  s.put('\uFFFD', bytes('x'));
  for (const call of [() => s.put('\uD800', bytes('y')), () => s.get('\uD800'), () => s.delete('\uDC00')]) {
    assert.throws(call, (e) => isTidemarkError(e, 'TIDEMARK_INVALID_ARGUMENT'));
  }
  assert.throws(
    () => s.put('k', 'text' as unknown as Uint8Array),
    (e) => isTidemarkError(e, 'TIDEMARK_INVALID_ARGUMENT'),
  );
  assert.deepEqual(s.get('\uFFFD'), bytes('x'));
  assert.equal(s.size, 1);
});

test('range scans include start, exclude end, stop at limit, and are empty when end ≤ start', () => {
  const s = small();
  for (let i = 0; i < 1000; i++) s.put(`k${String(i).padStart(4, '0')}`, bytes(String(i)));
  const range = keysOf(s.rangeScan('k0100', 'k0200'));
  assert.equal(range.length, 100);
  assert.equal(range[0], 'k0100');
  assert.equal(range[99], 'k0199');
  assert.deepEqual(keysOf(s.rangeScan('k0100', 'k0200', { limit: 3 })), ['k0100', 'k0101', 'k0102']);
  assert.deepEqual(keysOf(s.rangeScan('k0100x', 'k0103')), ['k0101', 'k0102']);
  assert.deepEqual(keysOf(s.rangeScan('k0200', 'k0100')), []);
  assert.deepEqual(keysOf(s.rangeScan('k0200', 'k0200')), []);
  assert.deepEqual(keysOf(s.rangeScan(undefined, 'k0002')), ['k0000', 'k0001']);
  assert.deepEqual(keysOf(s.rangeScan('k0998', undefined)), ['k0998', 'k0999']);
  assert.equal(keysOf(s.prefixScan('k01')).length, 100);
  assert.deepEqual(keysOf(s.prefixScan('k099', { limit: 2 })), ['k0990', 'k0991']);
  assert.deepEqual(keysOf(s.prefixScan('k0999')), ['k0999']);
  assert.deepEqual(keysOf(s.prefixScan('j')), []);
  assert.deepEqual(keysOf(s.rangeScan(undefined, undefined, { limit: 0 })), []);
  const [[key, value]] = [...s.rangeScan('k0500', undefined, { limit: 1 })] as [[string, Uint8Array]];
  assert.equal(key, 'k0500');
  assert.deepEqual(value, bytes('500'));
});

test('a scan running while keys are put and deleted returns every key present throughout, once, in order', () => {
  const s = small();
  for (let i = 0; i < 2000; i += 2) s.put(`k${String(i).padStart(5, '0')}`, bytes('v'));
  const seen: string[] = [];
  let n = 0;
  for (const [k] of s.entries()) {
    seen.push(k);
    // Insert odd keys (before and after the cursor), delete keys ≥ 1500, overwrite with a new size.
    s.put(`k${String(((n * 7919) % 2000) | 1).padStart(5, '0')}`, bytes('inserted'));
    if (n < 250) s.delete(`k${String(1500 + n * 2).padStart(5, '0')}`);
    s.put(k, bytes('rewritten to a longer value'));
    n++;
  }
  assert.deepEqual(seen, [...new Set(seen)].sort(utf8Order), 'in order, no repeats');
  for (let i = 0; i < 1500; i += 2) assert.ok(seen.includes(`k${String(i).padStart(5, '0')}`), `k${i} seen`);
});

test('a snapshot reads the state as of its creation while the store is overwritten, deleted, grown and compacted', () => {
  const s = small();
  for (let i = 0; i < 3000; i++) s.put(`k${i}`, bytes(`v${i}`));
  const baseline = s.stats().indexPages;
  const snap = s.snapshot();
  for (let i = 0; i < 3000; i++) {
    if (i % 3 === 0) s.delete(`k${i}`);
    else s.put(`k${i}`, bytes(`new value ${i}`));
    s.put(`n${i}`, bytes('new key'));
  }
  s.compact({ all: true });
  assert.equal(snap.size, 3000);
  for (let i = 0; i < 3000; i++) assert.deepEqual(snap.get(`k${i}`), bytes(`v${i}`));
  assert.equal(snap.has('n1'), false);
  const seen = [...snap.entries()];
  assert.equal(seen.length, 3000);
  assert.deepEqual(
    seen.map(([k]) => k),
    Array.from({ length: 3000 }, (_, i) => `k${i}`).sort(utf8Order),
  );
  assert.deepEqual(keysOf(snap.prefixScan('k299')), [
    'k299',
    'k2990',
    'k2991',
    'k2992',
    'k2993',
    'k2994',
    'k2995',
    'k2996',
    'k2997',
    'k2998',
    'k2999',
  ]);
  assert.ok(s.stats().snapshots === 1 && s.stats().indexPages > baseline, 'copies of pages are held');
  const heldSlabs = s.stats().slabBytes;
  snap.release();
  snap.release(); // idempotent
  assert.throws(
    () => snap.get('k1'),
    (e) => isTidemarkError(e, 'TIDEMARK_CLOSED'),
  );
  assert.throws(
    () => snap.entries().next(),
    (e) => isTidemarkError(e, 'TIDEMARK_CLOSED'),
  );
  s.compact({ all: true });
  assert.ok(s.stats().slabBytes < heldSlabs, 'slabs evacuated under the snapshot are freed on release');
  for (let i = 0; i < 3000; i++) {
    assert.deepEqual(s.get(`k${i}`), i % 3 === 0 ? undefined : bytes(`new value ${i}`));
  }
});

test('an iterator of a snapshot keeps reading old values while the store overwrites them in place', () => {
  const s = new SlabStore();
  for (let i = 0; i < 500; i++) s.put(`k${String(i).padStart(3, '0')}`, Buffer.from([i & 0xff]));
  const snap = s.snapshot();
  const it = snap.entries();
  let i = 0;
  for (const [, v] of it) {
    s.put(`k${String(i).padStart(3, '0')}`, Buffer.from([0xee])); // same length
    s.put(`k${String(499 - i).padStart(3, '0')}`, Buffer.from([0xdd]));
    assert.equal(v[0], i & 0xff);
    i++;
  }
  assert.equal(i, 500);
  snap.release();
});

test('compaction keeps every live value and bounds garbage under random overwrites and deletes', () => {
  const s = small();
  const model = new Map<string, Buffer>();
  let rng = 7;
  const rand = (n: number) => {
    rng = (Math.imul(rng, 1664525) + 1013904223) >>> 0;
    return rng % n;
  };
  for (let i = 0; i < 40_000; i++) {
    const k = `key-${rand(1500)}`;
    if (rand(5) === 0) {
      s.delete(k);
      model.delete(k);
    } else {
      const v = Buffer.alloc(1 + rand(60), i & 0xff);
      s.put(k, v);
      model.set(k, v);
    }
  }
  const st = s.stats();
  assert.ok(st.compactedBytes > 0, 'compaction ran from puts');
  assert.ok(
    st.garbageBytes <= st.liveBytes + 2 * 16384,
    `garbage ${st.garbageBytes} vs live ${st.liveBytes}`,
  );
  s.compact({ all: true });
  assert.equal(s.size, model.size);
  for (const [k, v] of model) assert.deepEqual(s.get(k), v);
  assert.deepEqual(keysOf(s.entries()), [...model.keys()].sort(utf8Order));
});

test('deleting every key gives back the index pages', () => {
  const s = new SlabStore();
  for (let i = 0; i < 50_000; i++) s.put(`k${i}`, Buffer.alloc(4));
  assert.ok(s.stats().indexPages > 100);
  for (let i = 0; i < 50_000; i++) assert.equal(s.delete(`k${i}`), true);
  assert.equal(s.size, 0);
  assert.equal(s.stats().indexPages, 1);
  assert.deepEqual(keysOf(s.entries()), []);
  s.compact({ all: true });
  assert.ok(s.stats().garbageBytes < 2 ** 20, 'only the head slab keeps garbage');
});

test('a value larger than the largest slab gets a slab of its own', () => {
  const s = new SlabStore({ minSlabBytes: 4096, maxSlabBytes: 4096 });
  const big = Buffer.alloc(100_000, 7);
  s.put('small', bytes('x'));
  s.put('big', big);
  s.put('small2', bytes('y'));
  assert.deepEqual(s.get('big'), big);
  s.put('big', bytes('now small'));
  s.compact({ all: true });
  assert.deepEqual(s.get('big'), bytes('now small'));
  assert.ok(s.stats().slabBytes < 100_000, 'the big slab was freed');
});

test('three million small entries fit without a V8 collection, in key order', () => {
  const s = new SlabStore();
  const v = Buffer.alloc(4);
  const N = 3_000_000;
  for (let i = 0; i < N; i++) {
    v.writeUInt32LE(i);
    s.put(`k${String(i).padStart(7, '0')}`, v);
  }
  assert.equal(s.size, N);
  for (let i = 0; i < N; i += 9973)
    assert.equal(Buffer.from(s.get(`k${String(i).padStart(7, '0')}`)!).readUInt32LE(0), i);
  let n = 0;
  for (const [k] of s.rangeScan('k2999990', undefined)) {
    assert.equal(k, `k${2_999_990 + n}`);
    n++;
  }
  assert.equal(n, 10);
  const st = s.stats();
  // Ascending keys fill leaves completely: well under 64 bytes beyond key and value per entry.
  assert.ok((st.slabBytes + st.indexBytes - st.keyValueBytes) / N < 32, JSON.stringify(st));
});

test('random inserts and deletes across a three-level tree keep every key, in order, under a snapshot', () => {
  const s = new SlabStore({ minSlabBytes: 65536, maxSlabBytes: 262144 });
  const model = new Map<string, number>();
  let rng = 99;
  const rand = (n: number) => {
    rng = (Math.imul(rng, 1664525) + 1013904223) >>> 0;
    return rng % n;
  };
  const put = (k: string, i: number) => {
    const v = Buffer.alloc(4);
    v.writeUInt32LE(i);
    s.put(k, v);
    model.set(k, i);
  };
  for (let i = 0; i < 60_000; i++) put(`r${rand(1_000_000)}`, i);
  const snap = s.snapshot();
  const before = new Map(model);
  for (const k of [...model.keys()]) {
    if (rand(3) !== 0) {
      assert.equal(s.delete(k), true);
      model.delete(k);
    }
  }
  for (let i = 0; i < 5000; i++) put(`r${rand(1_000_000)}`, i);
  const read = (it: Iterable<[string, Uint8Array]>) =>
    [...it].map(([k, v]) => [k, Buffer.from(v).readUInt32LE(0)]);
  const sortedModel = (m: Map<string, number>) => [...m].sort(([a], [b]) => utf8Order(a, b));
  assert.deepEqual(read(s.entries()), sortedModel(model));
  assert.deepEqual(read(snap.entries()), sortedModel(before));
  snap.release();
  s.compact({ all: true });
  assert.deepEqual(read(s.entries()), sortedModel(model));
});

test('one compaction step scans at most its byte budget (plus one record), however much garbage waits', () => {
  const s = new SlabStore({ minSlabBytes: 4096, maxSlabBytes: 4096, compaction: { auto: false } });
  for (let round = 0; round < 20; round++)
    for (let i = 0; i < 200; i++) s.put(`k${i}`, Buffer.alloc(10 + round));
  const garbage = s.stats().garbageBytes;
  assert.ok(garbage > 40_000);
  let steps = 0;
  for (;;) {
    const scanned = s.compactStep({ maxBytes: 1000 });
    if (scanned === 0) break;
    assert.ok(scanned < 1000 + 64, `step scanned ${scanned}`);
    steps++;
  }
  assert.ok(steps > 20, `${steps} steps`);
  assert.ok(s.stats().garbageBytes < garbage / 2);
  for (let i = 0; i < 200; i++) assert.deepEqual(s.get(`k${i}`), Buffer.alloc(29));
});
