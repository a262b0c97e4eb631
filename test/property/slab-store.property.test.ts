// SlabStore against a model (a Map, sorted by UTF-8 bytes): random put/delete/get/scan/snapshot/
// compact sequences on tiny slabs and steps, so splits, merges, copy-on-write and compaction all
// happen within a few hundred operations.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { type SlabSnapshot, SlabStore } from '../../src/state/index.ts';

const SEED = Number(process.env.TIDEMARK_FC_SEED ?? Date.now() % 1_000_000);
const RUNS = Number(process.env.TIDEMARK_FC_RUNS ?? 60);

const ALPHABET = ['a', 'b', 'é', '\uE000', '\uFFFF', '\u{1F600}', '\u{10000}', 'z'];
const key = fc.array(fc.constantFrom(...ALPHABET), { maxLength: 4 }).map((cs) => cs.join(''));
const utf8Order = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

type Op =
  | { kind: 'put'; key: string; length: number; fill: number }
  | { kind: 'delete'; key: string }
  | { kind: 'get'; key: string }
  | { kind: 'range'; start: string | undefined; end: string | undefined; limit: number | undefined }
  | { kind: 'prefix'; prefix: string; limit: number | undefined }
  | { kind: 'fill'; prefix: string; count: number; length: number }
  | { kind: 'drop'; prefix: string }
  | { kind: 'snapshot' }
  | { kind: 'release'; which: number }
  | { kind: 'compact'; all: boolean };

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({ kind: fc.constant('put' as const), key, length: fc.nat(90), fill: fc.nat(255) }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('delete' as const), key }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('get' as const), key }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('range' as const),
      start: fc.option(key, { nil: undefined }),
      end: fc.option(key, { nil: undefined }),
      limit: fc.option(fc.nat(20), { nil: undefined }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('prefix' as const),
      prefix: key,
      limit: fc.option(fc.nat(20), { nil: undefined }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('fill' as const),
      prefix: key,
      count: fc.nat(600),
      length: fc.nat(12),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('drop' as const), prefix: key }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('snapshot' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('release' as const), which: fc.nat(5) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('compact' as const), all: fc.boolean() }) },
);

function sorted(model: Map<string, Buffer>): [string, Buffer][] {
  return [...model.entries()].sort(([a], [b]) => utf8Order(a, b));
}

function expectScan(
  got: Iterable<[string, Uint8Array]>,
  model: Map<string, Buffer>,
  keep: (k: string) => boolean,
  limit: number | undefined,
): void {
  const want = sorted(model)
    .filter(([k]) => keep(k))
    .slice(0, limit ?? Number.MAX_SAFE_INTEGER);
  assert.deepEqual(
    [...got].map(([k, v]) => [k, Buffer.from(v)]),
    want,
  );
}

test('SlabStore behaves as a Map in UTF-8 key order, and every snapshot as the Map it was', () => {
  fc.assert(
    fc.property(fc.array(op, { minLength: 40, maxLength: 200 }), (ops) => {
      const store = new SlabStore({ minSlabBytes: 4096, maxSlabBytes: 4096, compaction: { stepBytes: 256 } });
      const model = new Map<string, Buffer>();
      const snaps: { snap: SlabSnapshot; model: Map<string, Buffer> }[] = [];
      const checkSnapshot = ({ snap, model: m }: { snap: SlabSnapshot; model: Map<string, Buffer> }) => {
        assert.equal(snap.size, m.size);
        expectScan(snap.entries(), m, () => true, undefined);
      };
      for (const o of ops) {
        switch (o.kind) {
          case 'put': {
            // Keys with the same first letter get big values, so slabs fill and split often.
            const v = Buffer.alloc(o.length, o.fill);
            store.put(o.key, v);
            model.set(o.key, v);
            break;
          }
          case 'delete':
            assert.equal(store.delete(o.key), model.delete(o.key));
            break;
          case 'get': {
            const got = store.get(o.key);
            assert.deepEqual(got === undefined ? undefined : Buffer.from(got), model.get(o.key));
            assert.equal(store.has(o.key), model.has(o.key));
            break;
          }
          case 'range': {
            const { start, end, limit } = o;
            expectScan(
              store.rangeScan(start, end, limit === undefined ? {} : { limit }),
              model,
              (k) =>
                (start === undefined || utf8Order(k, start) >= 0) &&
                (end === undefined || utf8Order(k, end) < 0),
              limit,
            );
            break;
          }
          case 'prefix': {
            const p = Buffer.from(o.prefix);
            expectScan(
              store.prefixScan(o.prefix, o.limit === undefined ? {} : { limit: o.limit }),
              model,
              (k) => Buffer.from(k).subarray(0, p.length).equals(p),
              o.limit,
            );
            break;
          }
          case 'fill':
            // Hundreds of keys at once: leaf and internal pages split (a leaf holds 253 refs).
            for (let i = 0; i < o.count; i++) {
              const k = `${o.prefix}${(i * 7919) % o.count}`;
              const v = Buffer.alloc(o.length, i & 0xff);
              store.put(k, v);
              model.set(k, v);
            }
            break;
          case 'drop':
            // Deletes empty and merge pages.
            for (const k of [...model.keys()]) {
              if (!k.startsWith(o.prefix)) continue;
              assert.equal(store.delete(k), true);
              model.delete(k);
            }
            break;
          case 'snapshot':
            snaps.push({ snap: store.snapshot(), model: new Map(model) });
            break;
          case 'release': {
            if (snaps.length === 0) break;
            const [s] = snaps.splice(o.which % snaps.length, 1);
            checkSnapshot(s!);
            s!.snap.release();
            break;
          }
          case 'compact':
            store.compact({ all: o.all });
            break;
        }
        assert.equal(store.size, model.size);
      }
      expectScan(store.entries(), model, () => true, undefined);
      for (const s of snaps) checkSnapshot(s);
      for (const s of snaps) s.snap.release();
      store.compact({ all: true });
      expectScan(store.entries(), model, () => true, undefined);
      assert.equal(store.stats().snapshots, 0);
      assert.equal(
        store.sizeBytes,
        [...model].reduce((n, [k, v]) => n + Buffer.byteLength(k) + v.length, 0),
      );
    }),
    { seed: SEED, numRuns: RUNS },
  );
});
