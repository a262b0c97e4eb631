// Commit times (WAL format version 4) never decrease within a segment: the writer clamps a clock
// that steps back. A checksummed batch whose time goes backwards was therefore not written as it
// is (a bug, a hand-made or spliced file): it is reported as corruption naming the segment and
// offset, like a stale LSN, and never trusted by a point-in-time target.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  BATCH_COMMIT_TIME_OFFSET,
  BATCH_CRC_OFFSET,
  BATCH_CRC_START,
  BATCH_HEADER_SIZE,
  BATCH_LENGTH_OFFSET,
  crc32c,
  PutEncoder,
} from '../../src/format/index.ts';
import { MemoryDirectory } from '../../src/io/index.ts';
import { lsnAtCommitTime } from '../../src/recovery/point-in-time.ts';
import { scanSegment, segmentFileName, WalReader, WriteAheadLog } from '../../src/wal/index.ts';
import { payloadFor } from '../helpers/tmp.ts';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0, 0);

/** A v4 segment of three batches committed at T0+100, T0+900, T0+2000 (then a clean-shutdown batch). */
async function threeBatches(): Promise<{ seg: Buffer; batches: { offset: number; time: number }[] }> {
  const dir = new MemoryDirectory();
  let now = T0;
  const wal = await WriteAheadLog.open(dir, { clock: () => now, cleanShutdown: false });
  for (const [i, t] of [100, 900, 2000].entries()) {
    now = T0 + t;
    await wal.flushed(wal.append(new PutEncoder().set(`k${i}`, payloadFor(i))));
  }
  await wal.close();
  const seg = Buffer.from(await dir.readFile(segmentFileName(1), 1 << 20));
  const batches: { offset: number; time: number }[] = [];
  scanSegment(seg, {
    path: 'image',
    segmentNumber: 1,
    final: true,
    visit: (r) => {
      if (batches.at(-1)?.offset !== r.batchOffset)
        batches.push({ offset: r.batchOffset, time: r.commitTimeMs! });
    },
  });
  return { seg, batches };
}

test('a batch whose commit time goes backwards within a segment is TIDEMARK_CORRUPTION at its offset, for the reader, the writer and a time target alike', async () => {
  const { seg, batches } = await threeBatches();
  assert.deepEqual(
    batches.map((b) => b.time),
    [T0 + 100, T0 + 900, T0 + 2000],
  );
  // Batch 3 says it was committed before batch 2, with a valid checksum (re-sealed by hand).
  const at = batches[2]!.offset;
  seg.writeUInt32LE(50, at + BATCH_COMMIT_TIME_OFFSET);
  const end = at + BATCH_HEADER_SIZE + seg.readUInt32LE(at + BATCH_LENGTH_OFFSET);
  seg.writeUInt32LE(crc32c(seg, at + BATCH_CRC_START, end), at + BATCH_CRC_OFFSET);
  const dir = new MemoryDirectory();
  await dir.writeFileAtomic(segmentFileName(1), seg);
  const isAt = (err: unknown): boolean => {
    assert.ok(err instanceof Error);
    assert.equal((err as { code?: string }).code, 'TIDEMARK_CORRUPTION');
    assert.equal((err as { offset?: number }).offset, at);
    assert.ok((err as { path?: string }).path?.endsWith(segmentFileName(1)), 'names the segment');
    assert.match(err.message, /commit time .* is before the previous batch's/);
    return true;
  };
  await assert.rejects(
    WalReader.read(dir, { fromLsn: 1 }, () => {}),
    isAt,
  );
  // Even as the final segment's last batch it is not a torn write (its checksum is valid): never cut.
  await assert.rejects(WriteAheadLog.open(dir), isAt);
  assert.equal((await dir.readFile(segmentFileName(1), 1 << 20)).length, seg.length, 'nothing was cut');
  // A time target between the damaged batch's two claims is not resolved from it.
  await assert.rejects(lsnAtCommitTime(dir, { afterLsn: 0, untilTimeMs: T0 + 1000 }), isAt);
});
