// Ring 1 writes drained records straight from the shared arena, one iovec per contiguous run.
// When Ring 0 padded each value to its source's alignment, 7 in 8 records were a run (an iovec,
// a view, a CRC32C call) of their own; packed entries make a group of puts one run per batch.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ChangelogDrainer, loadDurableSequence, StateChangelogBuffer } from '../../src/changelog/index.ts';
import { decodeEntry } from '../../src/format/index.ts';
import type { DirectoryFile, OpenMode } from '../../src/io/index.ts';
import { MemoryDirectory } from '../../src/io/index.ts';
import { WalReader, WriteAheadLog } from '../../src/wal/index.ts';

/** A memory directory whose files take vectored writes and count the buffers each one got. */
class CountingDirectory extends MemoryDirectory {
  vectoredWrites = 0;
  buffers = 0;
  override async open(name: string, mode: OpenMode): Promise<DirectoryFile> {
    const file = await super.open(name, mode);
    file.writev = async (buffers, position) => {
      this.vectoredWrites++;
      this.buffers += buffers.length;
      const all = Buffer.concat(buffers);
      await file.write(all, 0, all.length, position);
    };
    return file;
  }
}

test('a group of puts whose values are misaligned with the arena is written as one arena run, not one iovec per record', async () => {
  const buffer = StateChangelogBuffer.create({ capacityEntries: 4096, arenaBytes: 1 << 20 });
  const dir = new CountingDirectory();
  const wal = await WriteAheadLog.open(dir, { groupCommitDelayMs: 1000 });
  const drainer = new ChangelogDrainer(buffer, wal, { idleSleepMs: 1 });
  const running = drainer.run();
  // Values at every source alignment, keys of varying length: with padding, most records would
  // start a few bytes after the previous payload and be a run of their own.
  const source = Buffer.alloc(512 + 8);
  for (let i = 0; i < source.length; i++) source[i] = (i * 31) & 0xff;
  const valueAt = (i: number) => source.subarray(i % 8, (i % 8) + 16 + ((i * 37) % 300));
  const puts = 1000;
  for (let i = 0; i < puts; i++) assert.ok(buffer.pushPut(`key-${i}`, valueAt(i), 0));
  buffer.wakeConsumer();
  const deadline = Date.now() + 10_000;
  while (Number(loadDurableSequence(buffer)) < puts) {
    if (Date.now() > deadline) throw new Error('timed out waiting for the puts to be durable');
    await wal.sync();
    buffer.wakeConsumer();
    await new Promise((r) => setTimeout(r, 1));
  }
  drainer.stop();
  await running;
  await wal.close();
  assert.ok(dir.vectoredWrites > 0, 'records were written from the arena with vectored writes');
  // Per vectored write: batch headers and arena runs alternate (a few drain passes and batch
  // bounds split runs); nowhere near one buffer per record.
  assert.ok(
    dir.buffers <= 4 * dir.vectoredWrites + 40,
    `${dir.buffers} buffers in ${dir.vectoredWrites} vectored writes for ${puts} records`,
  );
  let n = 0;
  await WalReader.read(dir, { fromLsn: 1 }, (record) => {
    const e = decodeEntry(record);
    if (e.type !== 'put') return;
    assert.equal(e.key, `key-${n}`);
    assert.ok(Buffer.from(e.value).equals(valueAt(n)), e.key);
    n++;
  });
  assert.equal(n, puts);
});
