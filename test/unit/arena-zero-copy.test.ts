// Ring 1 writes drained records straight from the shared arena (vectored writes, the batch CRC
// computed in place): the arena bytes a write reads must not go back to Ring 0 before that write
// returned, or Ring 0's next pushes would overwrite records on their way to the disk.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ChangelogDrainer, loadDurableSequence, StateChangelogBuffer } from '../../src/changelog/index.ts';
import { decodeEntry, RING_ARENA_TAIL_WORD } from '../../src/format/index.ts';
import type { DirectoryFile, OpenMode } from '../../src/io/index.ts';
import { MemoryDirectory } from '../../src/io/index.ts';
import { WalReader, WriteAheadLog } from '../../src/wal/index.ts';

/** A memory directory whose files take vectored writes, and can hold the next one until released. */
class HoldingDirectory extends MemoryDirectory {
  held: (() => void) | undefined;
  holdNext = false;
  vectoredWrites = 0;
  /** Whether every vectored write found its bytes unchanged when it completed. */
  intact = true;
  override async open(name: string, mode: OpenMode): Promise<DirectoryFile> {
    const file = await super.open(name, mode);
    file.writev = async (buffers, position) => {
      this.vectoredWrites++;
      const snapshot = Buffer.concat(buffers);
      if (this.holdNext) {
        this.holdNext = false;
        await new Promise<void>((resolve) => {
          this.held = resolve;
        });
      }
      // What reaches the file is what the views hold now, as with a real pwritev that runs late.
      const now = Buffer.concat(buffers);
      if (!now.equals(snapshot)) this.intact = false;
      await file.write(now, 0, now.length, position);
    };
    return file;
  }
}

const until = async (what: string, done: () => boolean): Promise<void> => {
  const deadline = Date.now() + 10_000;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1));
  }
};

test('arena bytes Ring 1 writes in place are not reused by Ring 0 before the write that reads them returned: pushes wait for space instead of overwriting records on their way to disk', async () => {
  const buffer = StateChangelogBuffer.create({ capacityEntries: 1024, arenaBytes: 4096 });
  const dir = new HoldingDirectory();
  const wal = await WriteAheadLog.open(dir, { groupCommitDelayMs: 1 });
  const drainer = new ChangelogDrainer(buffer, wal, { idleSleepMs: 1 });
  const running = drainer.run();
  const value = (i: number) => Buffer.alloc(100, i & 0xff);
  dir.holdNext = true;
  let pushed = 0;
  for (; pushed < 20; pushed++) assert.ok(buffer.pushPut(`k${pushed}`, value(pushed), 0));
  buffer.wakeConsumer();
  await until('the write of the first group to start', () => dir.held !== undefined);
  // The write is in flight and reads the arena: Ring 0 may fill what is free, never what it reads.
  assert.equal(Atomics.load(buffer.control, RING_ARENA_TAIL_WORD), 0, 'nothing released yet');
  while (buffer.pushPut(`k${pushed}`, value(pushed), 0)) pushed++;
  assert.ok(pushed < 40, `the arena filled up (${pushed} puts) instead of wrapping over drained records`);
  dir.held!();
  await until('every put to be durable', () => {
    while (pushed < 60 && buffer.pushPut(`k${pushed}`, value(pushed), 0)) pushed++;
    buffer.wakeConsumer();
    return pushed === 60 && Number(loadDurableSequence(buffer)) === 60;
  });
  assert.ok(Atomics.load(buffer.control, RING_ARENA_TAIL_WORD) > 0, 'released once durable');
  drainer.stop();
  await running;
  await wal.close();
  assert.ok(dir.vectoredWrites > 0, 'records were written from the arena with vectored writes');
  assert.ok(dir.intact, 'no write found its arena bytes changed under it');
  const seen: string[] = [];
  await WalReader.read(dir, { fromLsn: 1 }, (record) => {
    const e = decodeEntry(record);
    if (e.type !== 'put') return;
    assert.deepEqual(Buffer.from(e.value), value(Number(e.key.slice(1))), e.key);
    seen.push(e.key);
  });
  assert.deepEqual(
    seen,
    Array.from({ length: 60 }, (_, i) => `k${i}`),
  );
});
