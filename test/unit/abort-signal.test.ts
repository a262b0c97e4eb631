import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as diagnosticsChannel from 'node:diagnostics_channel';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  CHECKPOINT_CHANNEL_NAME,
  type CheckpointStepMessage,
  channels,
  type Directory,
  FileSystemCheckpointStore,
  FsDirectory,
  openChangelogAwareStore,
  PerCoreRecoveryManager,
  RecoveryManager,
  restoreFromObjectStore,
  validateCheckpoint,
} from '../../src/index.js';
import { tmpDir } from '../helpers/tmp.js';

const enc = new TextEncoder();
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

type Coded = Error & { code?: string; cause?: unknown };
const aborted = (reason: unknown) => (err: Coded) => err.code === 'TIDEMARK_ABORTED' && err.cause === reason;
/** Matches the TIDEMARK_ABORTED of `controller`'s abort (its reason is read when the error arrives). */
const abortedBy = (controller: AbortController) => (err: Coded) =>
  err.code === 'TIDEMARK_ABORTED' && err.cause !== undefined && err.cause === controller.signal.reason;

/** `dir`, with `onSegmentRead` called before each WAL segment is read whole (as replay does). */
function watchSegmentReads(dir: Directory, onSegmentRead: () => void): Directory {
  return new Proxy(dir, {
    get(target, prop) {
      if (prop === 'readFile')
        return (name: string, max: number) => {
          if (name.endsWith('.log')) onSegmentRead();
          return target.readFile(name, max);
        };
      if (prop === 'subdirectory')
        return async (name: string) => watchSegmentReads(await target.subdirectory(name), onSegmentRead);
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** Calls `onStep` for each checkpoint step published in this thread until the returned function is called. */
function onCheckpointStep(onStep: (m: CheckpointStepMessage) => void): () => void {
  const listener = (m: unknown) => onStep(m as CheckpointStepMessage);
  diagnosticsChannel.subscribe(CHECKPOINT_CHANNEL_NAME, listener);
  return () => diagnosticsChannel.unsubscribe(CHECKPOINT_CHANNEL_NAME, listener);
}

function checkpointDirs(dir: string): string[] {
  const d = path.join(dir, 'checkpoints');
  return fs.existsSync(d) ? fs.readdirSync(d).filter((n) => n.startsWith('checkpoint-')) : [];
}

test('an already aborted signal rejects every long call at once with TIDEMARK_ABORTED (cause = reason) and touches nothing', async () => {
  const base = tmpDir('abort-before');
  const fresh = path.join(base, 'fresh');
  const reason = new Error('stop');
  const signal = AbortSignal.abort(reason);
  await assert.rejects(new RecoveryManager({ dir: fresh }).open({ signal }), aborted(reason));
  await assert.rejects(new RecoveryManager({ dir: fresh }).recover({ signal }), aborted(reason));
  await assert.rejects(openChangelogAwareStore({ dir: fresh, signal }), aborted(reason));
  await assert.rejects(
    restoreFromObjectStore({ from: 's3://bucket/prefix', dir: fresh, signal }),
    aborted(reason),
  );
  await assert.rejects(
    validateCheckpoint(path.join(fresh, 'checkpoints/checkpoint-0000000000000001'), { signal }),
    aborted(reason),
  );
  assert.equal(fs.existsSync(fresh), false, 'nothing was created');

  const walRoot = await FsDirectory.open(path.join(base, 'cores'));
  const store = new FileSystemCheckpointStore(await FsDirectory.open(path.join(base, 'cores-ckpt')));
  const perCore = new PerCoreRecoveryManager({ walRoot, store, cores: 2 });
  await assert.rejects(perCore.open({ signal }), aborted(reason));
  await assert.rejects(perCore.recover({ signal }), aborted(reason));
  const { writers } = await perCore.open(); // the lock was never taken
  for (const w of writers) await w.close();

  // Checkpoints on both stores: nothing written, the store keeps working.
  const simpleDir = path.join(base, 'simple');
  const opened = await new RecoveryManager({ dir: simpleDir }).open();
  opened.store.put('k', enc.encode('v'));
  await assert.rejects(opened.checkpoint({ signal }), aborted(reason));
  await assert.rejects(opened.checkpoint(undefined, { signal }), aborted(reason));
  assert.deepEqual(checkpointDirs(simpleDir), []);
  await opened.close();
  const pipeDir = path.join(base, 'pipe');
  const { store: pipe } = await openChangelogAwareStore({ dir: pipeDir });
  pipe.put('k', enc.encode('v'));
  await assert.rejects(pipe.checkpoint({ signal }), aborted(reason));
  assert.deepEqual(checkpointDirs(pipeDir), []);
  await pipe.close();
});

test('malformed signals and checkpoint arguments are TIDEMARK_INVALID_ARGUMENT before anything runs', async () => {
  const dir = tmpDir('abort-args');
  await assert.rejects(new RecoveryManager({ dir }).open({ signal: 'soon' } as never), {
    code: 'TIDEMARK_INVALID_ARGUMENT',
  });
  await assert.rejects(openChangelogAwareStore({ dir, signal: 5 } as never), {
    code: 'TIDEMARK_INVALID_ARGUMENT',
  });
  const opened = await new RecoveryManager({ dir }).open();
  for (const bad of [
    { signal: 1 },
    { extras: 3 },
    { extras: {}, connectors: {} }, // options form and extras mixed: refused, not guessed
    { signal: undefined, forceBase: 'yes' },
  ])
    await assert.rejects(
      opened.checkpoint(bad as never),
      { code: 'TIDEMARK_INVALID_ARGUMENT' },
      JSON.stringify(bad),
    );
  // The older form still works, and so does the options form carrying the extras.
  const connectors = { src: { offsets: { p0: '7' }, epoch: 1, metadata: {} } };
  opened.store.put('a', enc.encode('1'));
  await opened.checkpoint({ connectors });
  opened.store.put('b', enc.encode('2'));
  const signal = new AbortController().signal;
  await opened.checkpoint({ signal }); // carries the connectors forward, not read as empty extras
  await opened.close();
  const r = await new RecoveryManager({ dir }).recover();
  assert.deepEqual(r.checkpoint?.connectors, connectors);
  assert.equal(r.state.size, 2);
});

/** A closed simple store of `count` keys over many 4 KiB WAL segments, no checkpoint. */
async function longWal(count: number): Promise<{ dir: string; expected: Map<string, string> }> {
  const dir = tmpDir('abort-long');
  const expected = new Map<string, string>();
  const opened = await new RecoveryManager({ dir, wal: { segmentSizeBytes: 4096 } }).open();
  for (let i = 0; i < count; i++) {
    opened.store.put(`key-${i}`, enc.encode(`value-${i}`));
    expected.set(`key-${i}`, `value-${i}`);
  }
  await opened.store.flushed(opened.store.commit({ src: count }, 0));
  await opened.close();
  return { dir, expected };
}

function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.set(path.relative(dir, p), fs.readFileSync(p).toString('base64'));
    }
  };
  walk(dir);
  return out;
}

test('an abort mid-recovery of a long WAL stops between segments, releases the lock, and a reopen finds every acknowledged write', async () => {
  const { dir, expected } = await longWal(6000);
  const segments = fs.readdirSync(path.join(dir, 'wal')).filter((n) => n.endsWith('.log')).length;
  assert.ok(segments > 20, `a long WAL (${segments} segments)`);
  const before = snapshot(dir);

  // Read-only recovery: stopped after a few segments, nothing on disk changed.
  let reads = 0;
  const controller = new AbortController();
  const watched = watchSegmentReads(await FsDirectory.open(dir), () => {
    if (++reads === 4) controller.abort(new Error('recovery took too long'));
  });
  await assert.rejects(
    new RecoveryManager({ dir: watched }).recover({ signal: controller.signal }),
    abortedBy(controller),
  );
  assert.ok(reads < segments, `stopped early (${reads} of ${segments} segments read)`);
  assert.deepEqual(snapshot(dir), before);

  // open(): stopped the same way; the WAL is closed and the lock released.
  reads = 0;
  const again = new AbortController();
  const watchedOpen = watchSegmentReads(await FsDirectory.open(dir), () => {
    if (++reads === 6) again.abort(new Error('shutting down'));
  });
  await assert.rejects(
    new RecoveryManager({ dir: watchedOpen }).open({ signal: again.signal }),
    abortedBy(again),
  );
  assert.ok(reads < segments, `stopped early (${reads} of ${segments} segments read)`);

  const reopened = await new RecoveryManager({ dir }).open();
  assert.equal(reopened.recovered.state.size, expected.size);
  for (const [k, v] of expected) assert.equal(new TextDecoder().decode(reopened.recovered.state.get(k)), v);
  await reopened.close();
});

test('an abort mid-checkpoint abandons the draft: nothing is published, the next checkpoint succeeds and recovery is exact', async () => {
  const dir = tmpDir('abort-ckpt');
  const opened = await new RecoveryManager({ dir }).open();
  const expected = new Map<string, string>();
  const value = 'x'.repeat(1000);
  // ~3 MiB of state: a base is written in several 1 MiB chunks, each a safe point.
  for (let i = 0; i < 3000; i++) {
    opened.store.put(`k${i}`, enc.encode(`${i}:${value}`));
    expected.set(`k${i}`, `${i}:${value}`);
  }
  const controller = new AbortController();
  const stop = onCheckpointStep((m) => {
    if (m.step === 'begin') controller.abort(new Error('deadline'));
  });
  try {
    await assert.rejects(opened.checkpoint({ signal: controller.signal }), abortedBy(controller));
  } finally {
    stop();
  }
  assert.deepEqual(checkpointDirs(dir), [], 'the abandoned draft is gone, nothing published');

  // Past the publish point an abort changes nothing: the checkpoint completes.
  const late = new AbortController();
  const stopLate = onCheckpointStep((m) => {
    if (m.step === 'manifest-committed') late.abort(new Error('too late'));
  });
  let meta: Awaited<ReturnType<typeof opened.checkpoint>>;
  try {
    meta = await opened.checkpoint({ signal: late.signal });
  } finally {
    stopLate();
  }
  assert.equal(late.signal.aborted, true);
  assert.equal(meta.kind, 'base');

  opened.store.put('k1', enc.encode('changed'));
  expected.set('k1', 'changed');
  opened.store.delete('k2');
  expected.delete('k2');
  const next = await opened.checkpoint();
  assert.equal(next.kind, 'delta');
  await opened.close();

  const r = await new RecoveryManager({ dir }).recover();
  assert.equal(r.stats.checkpointId, next.id);
  assert.equal(r.state.size, expected.size);
  for (const [k, v] of expected) assert.equal(new TextDecoder().decode(r.state.get(k)), v);
});

test('an abort of a Ring 1 checkpoint abandons it in the worker; the next one succeeds and recovery is exact', async () => {
  const dir = tmpDir('abort-ring1');
  const { store } = await openChangelogAwareStore({ dir });
  const expected = new Map<string, string>();
  const value = 'y'.repeat(1000);
  for (let i = 0; i < 4000; i++) {
    store.put(`k${i}`, enc.encode(`${i}:${value}`));
    expected.set(`k${i}`, `${i}:${value}`);
  }
  await store.durable();
  // Ring 1's checkpoint span reaches this thread when it starts: abort then, mid-checkpoint.
  const controller = new AbortController();
  const span = diagnosticsChannel.tracingChannel(channels.checkpoint);
  const none = () => {};
  const handlers = {
    start: () => controller.abort(new Error('abandon it')),
    end: none,
    asyncStart: none,
    asyncEnd: none,
    error: none,
  };
  span.subscribe(handlers);
  let outcome: 'aborted' | 'published';
  try {
    outcome = await store.checkpoint({ signal: controller.signal }).then(
      () => 'published' as const,
      (err: Coded) => {
        assert.ok(abortedBy(controller)(err), String(err));
        return 'aborted' as const;
      },
    );
  } finally {
    span.unsubscribe(handlers);
  }
  // Ring 1 answers with what happened: abandoned (no checkpoint) or, if the abort came after its
  // publish point, published. A 4 MiB base is written in four chunks, so it is abandoned here.
  assert.equal(outcome, 'aborted');
  assert.deepEqual(checkpointDirs(dir), []);
  assert.equal(store.lastCheckpointError, undefined, 'an abandoned checkpoint is no failure');

  store.put('k1', enc.encode('changed'));
  expected.set('k1', 'changed');
  const done = await store.checkpoint();
  assert.equal(done.kind, 'base');
  await store.close();
  const r = await new RecoveryManager({ dir }).recover();
  assert.equal(r.stats.checkpointId, done.id);
  assert.equal(r.state.size, expected.size);
  for (const [k, v] of expected) assert.equal(new TextDecoder().decode(r.state.get(k)), v);
});

test('openChangelogAwareStore aborted during its checkpoint on open publishes nothing, releases the lock, and the next open recovers everything', async () => {
  const { dir, expected } = await longWal(2000);
  const controller = new AbortController();
  const stop = onCheckpointStep((m) => {
    if (m.step === 'begin') controller.abort(new Error('not now'));
  });
  try {
    await assert.rejects(
      openChangelogAwareStore({
        dir,
        checkpoint: { recoveryCheckpointRecords: 1 },
        signal: controller.signal,
      }),
      abortedBy(controller),
    );
  } finally {
    stop();
  }
  assert.deepEqual(checkpointDirs(dir), []);
  const { store, recovered } = await openChangelogAwareStore({ dir });
  assert.equal(recovered.state.size, expected.size);
  for (const [k, v] of expected) assert.equal(new TextDecoder().decode(recovered.state.get(k)), v);
  await store.close();
});

test('opens aborted at any moment leave no worker, no lock and no unhandled rejection behind: the process exits on its own', () => {
  const dir = tmpDir('abort-exit');
  const script = `
    import { openChangelogAwareStore, RecoveryManager } from './src/index.ts';
    process.on('unhandledRejection', (e) => { console.error('unhandled', e); process.exit(3); });
    const dir = ${JSON.stringify(dir)};
    const counts = { aborted: 0, opened: 0 };
    for (let i = 0; i < 24; i++) {
      try {
        const { store } = await openChangelogAwareStore({ dir, signal: AbortSignal.timeout(i % 12) });
        store.put('k' + i, new TextEncoder().encode('v'));
        await store.close();
        counts.opened++;
      } catch (err) {
        if (err.code !== 'TIDEMARK_ABORTED') throw err;
        counts.aborted++;
      }
    }
    const r = await new RecoveryManager({ dir }).recover();
    console.log(JSON.stringify({ ...counts, keys: r.state.size }));
  `;
  const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: root,
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(child.status, 0, `exit ${child.status} ${child.signal ?? ''}\n${child.stderr}`);
  const counts = JSON.parse(child.stdout.trim().split('\n').at(-1)!);
  assert.equal(counts.aborted + counts.opened, 24);
  assert.ok(counts.aborted > 0, JSON.stringify(counts));
  assert.equal(counts.keys, counts.opened, 'every acknowledged write of an open that succeeded is there');
});
