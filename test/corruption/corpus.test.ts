// The corruption corpus (LevelDB's log_test style): every single-bit flip of a reference WAL
// segment, the classic damaged-log shapes, and fast-check fuzzing of every decoder.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { isTidemarkError } from '../../src/errors.ts';
import {
  BATCH_HEADER_SIZE,
  type BatchInfo,
  CommitEncoder,
  crc32c,
  DeleteEncoder,
  decodeEntry,
  decodeManifest,
  decodeSegmentHeader,
  decodeStateFile,
  type FrameInfo,
  PutEncoder,
  readBatch,
  readFrame,
  SEGMENT_HEADER_SIZE,
  SEGMENT_VERSION_OFFSET,
  WAL_FORMAT_VERSION,
} from '../../src/format/index.ts';
import { MemoryDirectory } from '../../src/io/index.ts';
import { scanSegment, segmentFileName, WalReader, WriteAheadLog } from '../../src/wal/index.ts';
import { payloadFor } from '../helpers/tmp.ts';

const SEED = Number(process.env.TIDEMARK_FC_SEED ?? Date.now() % 1_000_000);
const RUNS = Number(process.env.TIDEMARK_FC_RUNS ?? 300);

/** A reference log of two segments: puts, deletes and commits; records by LSN. */
async function referenceLog(): Promise<{ seg1: Buffer; seg2: Buffer; records: Map<number, string> }> {
  const dir = new MemoryDirectory();
  const wal = await WriteAheadLog.open(dir, { segmentSizeBytes: 4096, lock: false });
  const put = new PutEncoder();
  const del = new DeleteEncoder();
  for (let i = 1; i <= 120; i++) {
    if (i % 10 === 1) wal.startBatch(); // batches of (at most) 10 records, several per segment
    if (i % 7 === 0) wal.append(del.set(`k${i - 3}`));
    else if (i % 11 === 0) wal.append(new CommitEncoder(1, { src: i }, i * 1000));
    else wal.append(put.set(`k${i}`, payloadFor(i).subarray(0, 30)));
  }
  await wal.close();
  const seg1 = Buffer.from(await dir.readFile(segmentFileName(1), 1 << 20));
  const seg2 = Buffer.from(await dir.readFile(segmentFileName(2), 1 << 20));
  const records = new Map<number, string>();
  for (const [name, buf] of [
    ['1', seg1],
    ['2', seg2],
  ] as const) {
    scanSegment(buf, {
      path: name,
      segmentNumber: Number(name),
      final: name === '2',
      visit: ({ lsn, type, buf: b, payloadStart: s, payloadLength: n }) => {
        records.set(lsn, `${type}:${b.subarray(s, s + n).toString('hex')}`);
      },
    });
  }
  return { seg1, seg2, records };
}

/** Reads a log of the given segment images; returns the records seen and the error, if any. */
async function readLog(
  images: Buffer[],
): Promise<{ seen: [number, string][]; error: unknown; tornTail: boolean }> {
  const dir = new MemoryDirectory();
  for (let i = 0; i < images.length; i++) await dir.writeFileAtomic(segmentFileName(i + 1), images[i]!);
  const seen: [number, string][] = [];
  try {
    const stats = await WalReader.read(
      dir,
      { fromLsn: 1 },
      ({ lsn, type, buf: b, payloadStart: s, payloadLength: n }) => {
        seen.push([lsn, `${type}:${b.subarray(s, s + n).toString('hex')}`]);
      },
    );
    return { seen, error: undefined, tornTail: stats.tornTail !== undefined };
  } catch (err) {
    return { seen, error: err, tornTail: false };
  }
}

test('every single-bit flip of a sealed reference segment is detected as TIDEMARK_CORRUPTION, and no record read is garbage', async (t) => {
  const { seg1, seg2, records } = await referenceLog();
  let flips = 0;
  for (let byte = 0; byte < seg1.length; byte++) {
    for (let bit = 0; bit < 8; bit++) {
      const damaged = Buffer.from(seg1);
      damaged[byte]! ^= 1 << bit;
      const r = await readLog([damaged, seg2]);
      flips++;
      assert.ok(
        isTidemarkError(r.error, 'TIDEMARK_CORRUPTION') ||
          isTidemarkError(r.error, 'TIDEMARK_UNSUPPORTED_VERSION'),
        `flip of bit ${bit} at byte ${byte}: ${r.error === undefined ? 'not detected' : String(r.error)}`,
      );
      for (const [lsn, rec] of r.seen)
        assert.equal(rec, records.get(lsn), `garbage record ${lsn} after flip at ${byte}`);
    }
  }
  assert.equal(flips, seg1.length * 8);
  t.diagnostic(`${flips} flips of a ${seg1.length}-byte sealed segment, all detected`);
});

test('every single-bit flip of a final reference segment is corruption or a reported torn tail, never garbage or a silent loss', async (t) => {
  const { seg1, seg2, records } = await referenceLog();
  let torn = 0;
  let refused = 0;
  for (let byte = 0; byte < seg2.length; byte++) {
    for (let bit = 0; bit < 8; bit++) {
      const damaged = Buffer.from(seg2);
      damaged[byte]! ^= 1 << bit;
      const r = await readLog([seg1, damaged]);
      for (const [lsn, rec] of r.seen)
        assert.equal(rec, records.get(lsn), `garbage record ${lsn} after flip at ${byte}`);
      if (r.error !== undefined) {
        assert.ok(isTidemarkError(r.error), String(r.error));
        refused++;
      } else {
        assert.ok(r.tornTail, `flip of bit ${bit} at byte ${byte} in the final segment went unreported`);
        torn++;
      }
    }
  }
  assert.equal(torn + refused, seg2.length * 8);
  assert.ok(torn > 0 && refused >= 0);
  t.diagnostic(
    `${torn + refused} flips of a ${seg2.length}-byte final segment: ${refused} refused, ${torn} cut as torn tails`,
  );
});

test('the classic damaged shapes: each is refused with its code or cut as a reported torn tail', async () => {
  const { seg1, seg2 } = await referenceLog();
  const code = async (images: Buffer[]) => {
    const r = await readLog(images);
    if (r.error !== undefined) return isTidemarkError(r.error) ? r.error.code : `untyped ${String(r.error)}`;
    return r.tornTail ? 'torn-tail' : 'clean';
  };
  // A record length running past the end of the file.
  const pastEof = Buffer.from(seg1.subarray(0, seg1.length - 10));
  assert.equal(await code([pastEof, seg2]), 'TIDEMARK_CORRUPTION', 'sealed segment cut short');
  assert.equal(
    await code([seg1, seg2.subarray(0, seg2.length - 10)]),
    'torn-tail',
    'final segment cut short',
  );
  // A zero-filled tail (a file extended but never written: preallocated space) ends a final
  // segment cleanly; a sealed segment is cut to its data at rotation, so zeros there are damage.
  assert.equal(await code([seg1, Buffer.concat([seg2, Buffer.alloc(4096)])]), 'clean');
  assert.equal(await code([Buffer.concat([seg1, Buffer.alloc(64)]), seg2]), 'TIDEMARK_CORRUPTION');
  // Wrong magic (header checksum recomputed so only the magic is wrong).
  const magic = Buffer.from(seg1);
  magic.write('XXXX', 0, 'latin1');
  assert.equal(await code([magic, seg2]), 'TIDEMARK_CORRUPTION');
  // A newer format version, with a valid header checksum.
  const newer = Buffer.from(seg1);
  newer.writeUInt16LE(WAL_FORMAT_VERSION + 1, SEGMENT_VERSION_OFFSET);
  newer.writeUInt32LE(crc32c(newer, 0, 28), 28);
  assert.equal(await code([newer, seg2]), 'TIDEMARK_UNSUPPORTED_VERSION');
  // A duplicated segment (segment 1's bytes again as segment 2): header number mismatch.
  assert.equal(await code([seg1, seg1]), 'TIDEMARK_CORRUPTION');
  // A missing segment number.
  const dir = new MemoryDirectory();
  await dir.writeFileAtomic(segmentFileName(1), seg1);
  await dir.writeFileAtomic(segmentFileName(3), seg2);
  await assert.rejects(
    WalReader.read(dir, { fromLsn: 1 }, () => {}),
    (e: unknown) => isTidemarkError(e, 'TIDEMARK_CORRUPTION'),
  );
  // A stale record: a valid batch of earlier LSNs spliced over a later one in a sealed segment.
  const info: BatchInfo = { length: 0, count: 0, segment: 0, firstLsn: 0 };
  assert.equal(readBatch(seg1, SEGMENT_HEADER_SIZE, seg1.length, { segment: 1, out: info, timed: true }), 0);
  const firstLen = BATCH_HEADER_SIZE + info.length;
  const stale = Buffer.from(seg1);
  seg1.copy(stale, SEGMENT_HEADER_SIZE + firstLen, SEGMENT_HEADER_SIZE, SEGMENT_HEADER_SIZE + firstLen);
  assert.equal(await code([stale, seg2]), 'TIDEMARK_CORRUPTION');
});

/** Runs `f`, which may only throw TidemarkErrors, within `ms`. */
function onlyTyped(what: string, f: () => unknown, ms = 250): void {
  const t0 = performance.now();
  try {
    f();
  } catch (err) {
    assert.ok(isTidemarkError(err), `${what} threw ${String(err)}`);
  }
  assert.ok(performance.now() - t0 < ms, `${what} took ${(performance.now() - t0).toFixed(0)} ms`);
}

test(`fuzzing every decoder with random and mutated bytes: only typed errors, no hang, no allocation past the caps (seed ${SEED})`, async () => {
  const { seg1 } = await referenceLog();
  const mutated = (base: Uint8Array) =>
    fc
      .array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })), {
        minLength: 1,
        maxLength: 8,
      })
      .map((edits) => {
        const b = Buffer.from(base);
        for (const [at, v] of edits) b[at] = v;
        return b;
      });
  const bytes = fc.oneof(
    fc.uint8Array({ maxLength: 4096 }).map((u) => Buffer.from(u)),
    mutated(seg1),
  );
  const heapBefore = process.memoryUsage().arrayBuffers;
  fc.assert(
    fc.property(bytes, fc.integer({ min: 0, max: 7 }), (buf, type) => {
      onlyTyped('decodeSegmentHeader', () => decodeSegmentHeader(buf));
      onlyTyped('scanSegment', () => scanSegment(buf, { path: 'fuzz', segmentNumber: 1, final: true }));
      onlyTyped('scanSegment (sealed)', () =>
        scanSegment(buf, { path: 'fuzz', segmentNumber: 1, final: false }),
      );
      onlyTyped('scanSegment (salvage)', () =>
        scanSegment(buf, { path: 'fuzz', segmentNumber: 1, final: true, mode: 'salvage' }),
      );
      onlyTyped('decodeEntry', () =>
        decodeEntry({ type, buf, payloadStart: 0, payloadLength: buf.length, path: 'fuzz', frameOffset: 0 }),
      );
      onlyTyped('decodeStateFile', () => decodeStateFile(buf, 'fuzz'));
      onlyTyped('decodeManifest', () => decodeManifest(buf, 'fuzz'));
      const info: FrameInfo = { type: 0, lsn: 0, payloadLength: 0 };
      const batch: BatchInfo = { length: 0, count: 0, segment: 0, firstLsn: 0 };
      for (let p = 0; p + 20 <= buf.length; p += 97) {
        onlyTyped('readFrame', () => readFrame(buf, p, buf.length, info));
        onlyTyped('readBatch', () => readBatch(buf, p, buf.length, { segment: 1, out: batch }));
      }
    }),
    { seed: SEED, numRuns: RUNS },
  );
  // Decoders check a length against its cap before allocating: fuzzing allocates little.
  const grown = process.memoryUsage().arrayBuffers - heapBefore;
  assert.ok(grown < 256 * 1024 * 1024, `array buffers grew by ${grown} bytes`);
});
