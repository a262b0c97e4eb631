// A restore from the object store killed with SIGKILL midway — through `RecoveryManager.open`
// taking over an empty machine (fetchArchiveIfWalEmpty) and through `restoreFromObjectStore`
// (`tidemark recover --from`) — must leave a directory that the next open either recovers
// whole or refuses with a clear error, never a silently partial WAL.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import type { ObjectStoreConfig } from '../../src/io/index.ts';
import { RecoveryManager, restoreFromObjectStore } from '../../src/recovery/index.ts';
import { RESTORE_MARKER } from '../../src/recovery/restore-from-object-store.ts';
import { testObjectStore, urlOf } from '../helpers/s3.ts';
import { payloadFor, tmpDir } from '../helpers/tmp.ts';

const root = tmpDir('restore-kill');
const RECOVERY = new URL('../../src/recovery/index.ts', import.meta.url).href;

/** Writes keys into a store archiving to `objectStore`, closes it; resolves the expected state. */
async function writeArchive(objectStore: ObjectStoreConfig): Promise<Map<string, string>> {
  const s = await new RecoveryManager({
    dir: path.join(root, `writer-${(objectStore.prefix ?? '').replaceAll('/', '-')}`),
    objectStore,
    archiveIntervalMs: 0,
    wal: { segmentSizeBytes: 4096 },
  }).open();
  const model = new Map<string, string>();
  for (let i = 0; i < 400; i++) {
    const v = payloadFor(i);
    s.store.put(`k${i % 150}`, v);
    model.set(`k${i % 150}`, v.toString('hex'));
  }
  await s.store.wal.sync();
  await s.close(); // seals the active segment and archives it: the whole log is in the archive
  return model;
}

function text(state: Iterable<[string, Uint8Array]>): Map<string, string> {
  return new Map([...state].map(([k, v]) => [k, Buffer.from(v).toString('hex')]));
}

function segmentCount(walDir: string): number {
  try {
    return fs.readdirSync(walDir).filter((n) => n.endsWith('.log')).length;
  } catch {
    return 0;
  }
}

/** Runs `script` in a child and SIGKILLs it once `walDir` holds `segments` segment files. */
async function killMidRestore(
  script: string,
  args: string[],
  walDir: string,
  segments: number,
): Promise<boolean> {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  let done = false;
  void exited.then(() => {
    done = true;
  });
  while (!done && segmentCount(walDir) < segments) await new Promise((r) => setTimeout(r, 1));
  if (done) {
    assert.match(out, /finished/, 'the child ran to its end');
    return false;
  }
  child.kill('SIGKILL');
  await exited;
  return true;
}

test('RecoveryManager.open on an empty machine killed mid-fetch of the WAL archive: the next open without the store refuses, with it recovers everything', async () => {
  const objectStore = testObjectStore('restore-kill-open');
  const model = await writeArchive(objectStore);
  let killedMidway = 0;
  for (const at of [1, 2, 4, 7]) {
    const dir = path.join(root, `open-${at}`);
    const killed = await killMidRestore(
      `import { RecoveryManager } from '${RECOVERY}';
       const s = await new RecoveryManager({ dir: process.argv[1], objectStore: JSON.parse(process.argv[2]) }).open();
       await s.close(); console.log('finished');`,
      [dir, JSON.stringify(objectStore)],
      path.join(dir, 'wal'),
      at,
    );
    if (killed && fs.existsSync(path.join(dir, 'wal', RESTORE_MARKER))) {
      killedMidway++;
      await assert.rejects(new RecoveryManager({ dir }).open(), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'TIDEMARK_DATA_LOSS');
        assert.match(err.message, /restore from the object store was interrupted/);
        return true;
      });
    }
    const s = await new RecoveryManager({ dir, objectStore }).open();
    assert.deepEqual(text(new Map(s.store.entries())), model, `killed after ${at} segments`);
    assert.equal(fs.existsSync(path.join(dir, 'wal', RESTORE_MARKER)), false);
    await s.close();
  }
  assert.ok(killedMidway >= 2, `${killedMidway} kills landed mid-restore`);
});

test('restoreFromObjectStore (recover --from) killed midway: running it again restores the whole directory', async () => {
  const objectStore = testObjectStore('restore-kill-cli');
  const model = await writeArchive(objectStore);
  let killedMidway = 0;
  for (const at of [1, 3, 6]) {
    const dir = path.join(root, `cli-${at}`);
    const killed = await killMidRestore(
      `import { restoreFromObjectStore } from '${RECOVERY}';
       await restoreFromObjectStore({ from: process.argv[2], dir: process.argv[1] }); console.log('finished');`,
      [dir, urlOf(objectStore)],
      path.join(dir, 'wal'),
      at,
    );
    if (killed && fs.existsSync(path.join(dir, 'wal', RESTORE_MARKER))) killedMidway++;
    await restoreFromObjectStore({ from: urlOf(objectStore), dir });
    const recovered = await new RecoveryManager({ dir }).recover();
    assert.deepEqual(text(recovered.state), model, `killed after ${at} segments`);
  }
  assert.ok(killedMidway >= 2, `${killedMidway} kills landed mid-restore`);
});
