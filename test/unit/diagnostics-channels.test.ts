/**
 * The tracing channels of docs/OBSERVABILITY.md: every documented channel fires with its
 * documented context fields, every start is paired with its asyncEnd on the same context object,
 * Ring 1's checkpoint spans reach the store's thread, and a subscriber that throws does not fail
 * a commit (Node reports its error as an uncaught exception on the next tick).
 */
import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { test } from 'node:test';
import { FileSystemCheckpointStore, PerCoreCheckpointCoordinator } from '../../src/checkpoint/index.ts';
import { channels } from '../../src/index.ts';
import { FsDirectory, S3ObjectStorage } from '../../src/io/index.ts';
import { openChangelogAwareStore } from '../../src/pipeline/index.ts';
import { RecoveryManager } from '../../src/recovery/index.ts';
import { localParticipant, PerCoreWalManager } from '../../src/wal/index.ts';
import { payloadFor, tmpDir } from '../helpers/tmp.ts';

type Name = keyof typeof channels;
type Ev = 'start' | 'end' | 'asyncStart' | 'asyncEnd' | 'error';
interface Seen {
  channel: Name;
  event: Ev;
  ctx: Record<string, unknown>;
  /** The context's fields when the event was published (it is filled in as the span goes). */
  snapshot: Record<string, unknown>;
}

/** Subscribes to every event of every channel; returns what was seen and how to stop. */
function recordAll(): { seen: Seen[]; stop: () => void } {
  const seen: Seen[] = [];
  const subs: [string, Record<Ev, (ctx: object) => void>][] = [];
  for (const name of Object.keys(channels) as Name[]) {
    const on = (event: Ev) => (ctx: object) =>
      seen.push({ channel: name, event, ctx: ctx as Record<string, unknown>, snapshot: { ...ctx } });
    const handlers = {
      start: on('start'),
      end: on('end'),
      asyncStart: on('asyncStart'),
      asyncEnd: on('asyncEnd'),
      error: on('error'),
    };
    diagnosticsChannel.tracingChannel(channels[name]).subscribe(handlers);
    subs.push([channels[name], handlers]);
  }
  return {
    seen,
    stop: () => {
      for (const [name, handlers] of subs) diagnosticsChannel.tracingChannel(name).unsubscribe(handlers);
    },
  };
}

/** Spans of `channel` (by context object) with their events in order; asserts start/asyncEnd pair up. */
function spans(seen: Seen[], channel: Name): { ctx: Record<string, unknown>; events: Ev[] }[] {
  const byCtx = new Map<object, Ev[]>();
  for (const s of seen.filter((x) => x.channel === channel)) {
    const events = byCtx.get(s.ctx) ?? [];
    if (events.length === 0) assert.equal(s.event, 'start', `${channel}: a span's first event is start`);
    events.push(s.event);
    byCtx.set(s.ctx, events);
  }
  const out = [...byCtx].map(([ctx, events]) => ({ ctx: ctx as Record<string, unknown>, events }));
  for (const { events } of out) {
    assert.equal(events.filter((e) => e === 'start').length, 1, `${channel}: one start per span`);
    assert.equal(events.at(-1), 'asyncEnd', `${channel}: every span ends with asyncEnd (${events})`);
    assert.ok(events.includes('end'), `${channel}: the synchronous part ends too`);
  }
  return out;
}

const isNum = (x: unknown) => typeof x === 'number' && Number.isFinite(x);

test('a simple store publishes wal.sync, wal.group-commit, checkpoint.create and recovery spans with their documented fields, paired start/asyncEnd', async () => {
  const dir = tmpDir('diag-simple');
  const rec = recordAll();
  try {
    for (const syncMethod of ['fdatasync', 'o_dsync'] as const) {
      const sub = path.join(dir, syncMethod);
      rec.seen.length = 0;
      const opened = await new RecoveryManager({ dir: sub, wal: { syncMethod } }).open();
      let lsn = 0;
      for (let i = 0; i < 50; i++) lsn = opened.store.put(`k${i}`, payloadFor(i));
      lsn = opened.store.commit({ src: 50 });
      await opened.store.flushed(lsn);
      const ckpt = await opened.checkpoint();
      opened.store.put('after', payloadFor(99));
      await opened.close();
      const again = await new RecoveryManager({ dir: sub }).recover();
      assert.equal(again.stats.checkpointId, ckpt.id);

      const syncs = spans(rec.seen, 'walSync').filter((s) => s.ctx.syncMethod === syncMethod);
      assert.ok(syncs.length >= 1, `a ${syncMethod} barrier was traced`);
      for (const { ctx } of syncs) {
        assert.ok(String(ctx.path).startsWith(path.join(sub, 'wal')), String(ctx.path));
        assert.ok(isNum(ctx.bytes));
      }
      assert.ok(
        syncs.some(({ ctx }) => (ctx.bytes as number) > 0),
        'some barrier made bytes durable',
      );

      const groups = spans(rec.seen, 'walGroupCommit').filter((s) => String(s.ctx.path).startsWith(sub));
      assert.ok(groups.length >= 1);
      const big = groups.find(({ ctx }) => ctx.lastLsn === lsn);
      assert.ok(big, 'the group holding the commit was traced');
      for (const { ctx } of groups) {
        assert.ok(isNum(ctx.records) && isNum(ctx.bytes));
        assert.equal(ctx.lastLsn, (ctx.firstLsn as number) + (ctx.records as number) - 1);
      }

      const ckpts = spans(rec.seen, 'checkpoint').filter(({ ctx }) => ctx.id === ckpt.id);
      assert.equal(ckpts.length, 1);
      const c = ckpts[0]!.ctx;
      assert.equal(c.engine, 'incremental');
      assert.equal(c.kind, 'base');
      assert.equal(c.keysWritten, 50);
      assert.equal(c.bytes, ckpt.bytes);
      assert.equal(c.lsn, ckpt.lsn);
      assert.ok(isNum(c.epoch));
      // The context is filled in when the work is done: start saw no id, asyncEnd did.
      const startSnap = rec.seen.find((s) => s.ctx === c && s.event === 'start')!.snapshot;
      assert.equal(startSnap.id, undefined);

      const recoveries = spans(rec.seen, 'recovery').filter(({ ctx }) => ctx.dir === sub);
      assert.deepEqual(
        recoveries.map(({ ctx }) => ctx.operation),
        ['open', 'recover'],
      );
      assert.equal(recoveries[0]!.ctx.checkpointId, undefined, 'a fresh directory has no checkpoint');
      assert.equal(recoveries[1]!.ctx.checkpointId, ckpt.id);
      assert.equal(recoveries[1]!.ctx.recordsReplayed, again.stats.recordsReplayed);
    }
  } finally {
    rec.stop();
  }
});

test("the changelog-aware store's Ring 1 checkpoint span is republished in the store's thread", async () => {
  const dir = tmpDir('diag-ring1');
  const rec = recordAll();
  try {
    const { store } = await openChangelogAwareStore({ dir });
    for (let i = 0; i < 30; i++) store.put(`k${i}`, payloadFor(i));
    await store.flushed(store.commit({ src: 30 }));
    const ckpt = await store.checkpoint();
    await store.close();
    const forwarded = spans(rec.seen, 'checkpoint').filter(({ ctx }) => ctx.thread === 'ring1');
    assert.equal(forwarded.length, 1);
    const c = forwarded[0]!.ctx;
    assert.equal(c.id, ckpt.id);
    assert.equal(c.kind, ckpt.kind);
    assert.equal(c.keysWritten, 30);
    assert.equal(c.bytes, ckpt.bytes);
    assert.ok(isNum(c.durationMs));
    assert.ok(
      spans(rec.seen, 'recovery').some(({ ctx }) => ctx.dir === dir),
      "the store's recovery runs (and is traced) in this thread",
    );
  } finally {
    rec.stop();
  }
});

test('a per-core checkpoint publishes a checkpoint.create span with engine per-core', async () => {
  const dir = tmpDir('diag-per-core');
  const walRoot = await FsDirectory.open(path.join(dir, 'wal'));
  const store = new FileSystemCheckpointStore(await FsDirectory.open(path.join(dir, 'checkpoints')));
  const m = await PerCoreWalManager.open({ dir: walRoot, cores: 2 });
  const coordinator = await PerCoreCheckpointCoordinator.open({
    store,
    walRoot,
    participants: [0, 1].map((c) => localParticipant(m.writer(c))),
  });
  const rec = recordAll();
  try {
    for (let i = 0; i < 10; i++) m.writer(i % 2).appendPut(`k${i}`, payloadFor(i));
    await m.syncAll();
    const done = await coordinator.checkpoint();
    const c = spans(rec.seen, 'checkpoint').find(({ ctx }) => ctx.engine === 'per-core')!.ctx;
    assert.equal(c.id, done.id);
    assert.equal(c.kind, 'base');
    assert.equal(c.keysWritten, 10);
    assert.equal(c.bytes, done.stateBytes);
    assert.equal(c.epoch, done.epoch);
  } finally {
    rec.stop();
    for (let core = 0; core < 2; core++) await m.writer(core).close();
  }
});

test('a subscriber that throws does not fail a commit or a checkpoint: its error surfaces as an uncaught exception and the data is durable', async () => {
  const dir = tmpDir('diag-throw');
  const uncaught: unknown[] = [];
  process.setUncaughtExceptionCaptureCallback((err) => uncaught.push(err));
  const boom = () => {
    throw new Error('subscriber bug');
  };
  const handlers = { start: boom, end: boom, asyncStart: boom, asyncEnd: boom, error: boom };
  const names = Object.values(channels);
  for (const name of names) diagnosticsChannel.tracingChannel(name).subscribe(handlers);
  try {
    const opened = await new RecoveryManager({ dir }).open();
    for (let i = 0; i < 20; i++) opened.store.put(`k${i}`, payloadFor(i));
    await opened.store.flushed(opened.store.commit({ src: 20 }));
    const ckpt = await opened.checkpoint();
    assert.equal(ckpt.keysWritten, 20);
    await opened.close();
    await new Promise((resolve) => setImmediate(resolve));
    const recovered = await new RecoveryManager({ dir }).recover();
    assert.equal(recovered.state.size, 20);
    assert.deepEqual(recovered.sourceOffsets, { src: 20 });
    await new Promise((resolve) => setImmediate(resolve));
    assert.ok(uncaught.length > 0, 'the subscriber errors were reported');
    assert.ok(uncaught.every((e) => (e as Error).message === 'subscriber bug'));
  } finally {
    for (const name of names) diagnosticsChannel.tracingChannel(name).unsubscribe(handlers);
    process.setUncaughtExceptionCaptureCallback(null);
  }
});

test('an object-store request attempt is a span carrying operation, key, attempt and the HTTP status, retries included', async () => {
  // A loopback HTTP server standing in for S3 (the radosgw tests cover real S3 semantics): the
  // bucket exists; the object's first HEAD answers 503, the retry 200.
  let objectHeads = 0;
  const server = http.createServer((req, res) => {
    if (req.method === 'HEAD' && req.url?.startsWith('/bkt/obj') && ++objectHeads === 1) {
      res.writeHead(503).end();
      return;
    }
    res.writeHead(200, { 'content-length': '0' }).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const storage = new S3ObjectStorage({
    bucket: 'bkt',
    prefix: '',
    endpoint: `http://127.0.0.1:${port}`,
    region: 'us-east-1',
    accessKeyId: 'test',
    secretAccessKey: 'test',
    createBucket: false,
    baseBackoffMs: 1,
    maxBackoffMs: 1,
  });
  const rec = recordAll();
  try {
    const info = await storage.head('obj');
    assert.ok(info, 'the second attempt found the object');
    const requests = spans(rec.seen, 'objectStoreRequest');
    assert.deepEqual(
      requests.map(({ ctx }) => [ctx.operation, ctx.key, ctx.attempt, ctx.status]),
      [
        ['HeadBucket', '', 1, 200],
        ['HeadObject', 'obj', 1, 503],
        ['HeadObject', 'obj', 2, 200],
      ],
    );
    assert.ok(requests[1]!.events.includes('error'), 'the failed attempt published error');
    assert.ok(!requests[2]!.events.includes('error'));
  } finally {
    rec.stop();
    storage.destroy();
    server.close();
  }
});
