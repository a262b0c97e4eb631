// Faults between tidemark and a real radosgw, injected by a loopback proxy: no corrupt checkpoint
// is ever published or loaded, retryable faults are retried (boundedly), ambiguous writes are
// settled by reading back, and what cannot succeed surfaces with its code.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  type CheckpointDraft,
  loadCheckpoint,
  loadLatestCheckpoint,
  ObjectStoreCheckpointStore,
  validateCheckpointChain,
} from '../../src/checkpoint/index.ts';
import { isTidemarkError } from '../../src/errors.ts';
import type { ObjectStoreConfig } from '../../src/io/index.ts';
import { baseDraft } from '../helpers/checkpoint-drafts.ts';
import { type FaultProxy, startFaultProxy } from '../helpers/fault-proxy.ts';
import { testObjectStore } from '../helpers/s3.ts';

let proxy: FaultProxy;
before(async () => {
  proxy = await startFaultProxy();
});
after(() => proxy.close());

/** A store through the proxy, and a second one straight to the server (the truth). */
function stores(label: string, overrides: Partial<ObjectStoreConfig> = {}) {
  const config = testObjectStore(label, { maxAttempts: 6, requestTimeoutMs: 1_500, ...overrides });
  const faulty = new ObjectStoreCheckpointStore({ ...config, endpoint: proxy.endpoint });
  const direct = new ObjectStoreCheckpointStore(config);
  after(() => {
    faulty.close();
    direct.close();
  });
  return { faulty, direct };
}

function draft(id: number, entries: number, tag: string): CheckpointDraft {
  const values = Array.from({ length: entries }, (_, i) => [`key${i}`, `${tag}-${i}`.repeat(20)] as const);
  const d = baseDraft(id, values);
  return { ...d, manifest: { ...d.manifest, createdAtMs: Date.now() } };
}

const isWrite = (r: { method: string }) => r.method === 'PUT' || r.method === 'POST';
const isRead = (r: { method: string }) => r.method === 'GET' || r.method === 'HEAD';

test('5xx answers, dropped connections and truncated bodies are retried: every checkpoint publishes and loads intact', async () => {
  const { faulty, direct } = stores('retryable');
  const kinds = ['503', 'drop', 'truncate'] as const;
  proxy.setPlan((_req, n) => (n % 3 === 0 ? kinds[(n / 3) % kinds.length] : undefined));
  for (let id = 1; id <= 6; id++) {
    await faulty.save(draft(id, 200, `v${id}`));
    const loaded = await loadCheckpoint(faulty, id);
    assert.equal(Buffer.from(loaded.state.get('key7')!).toString(), `v${id}-7`.repeat(20));
  }
  proxy.setPlan(() => undefined);
  const stats = faulty.storage.stats();
  assert.ok(stats.retries >= 10, `${stats.retries} retries`);
  for (const kind of kinds) assert.ok((proxy.injected.get(kind) ?? 0) > 0, `${kind} was injected`);
  assert.deepEqual(await direct.list(), [1, 2, 3, 4, 5, 6]);
  for (const id of await direct.list()) assert.equal((await validateCheckpointChain(direct, id)).valid, true);
});

test('a write whose answer never comes (after it reached the server) is settled by reading it back, committed once', async () => {
  const { faulty, direct } = stores('ambiguous', { requestTimeoutMs: 800 });
  let hung = 0;
  proxy.setPlan((req) => {
    if (isWrite(req) && req.url.includes('manifest.json') && hung === 0) {
      hung++;
      return 'hang';
    }
    return undefined;
  });
  const saved = await faulty.save(draft(1, 50, 'once'));
  proxy.setPlan(() => undefined);
  assert.equal(hung, 1);
  assert.equal(faulty.storage.stats().settledByReadBack, 1, 'settled by a read-back, not by a second write');
  assert.deepEqual(await direct.loadManifest(1), saved);
  assert.equal((await validateCheckpointChain(direct, 1)).valid, true);
});

test('a server that keeps failing: save rejects with TIDEMARK_IO after maxAttempts, and nothing is published', async () => {
  const { faulty, direct } = stores('persistent', { maxAttempts: 3 });
  await faulty.save(draft(1, 10, 'good'));
  proxy.setPlan((req) => (isWrite(req) && req.url.includes('manifest.json') ? '503' : undefined));
  const before503 = proxy.injected.get('503') ?? 0;
  await assert.rejects(faulty.save(draft(2, 10, 'lost')), (err: unknown) => {
    assert.ok(isTidemarkError(err, 'TIDEMARK_IO'), String(err));
    assert.match(err.message, /after 3 attempts/);
    assert.match(err.path ?? '', /checkpoint-0000000000000002\/manifest\.json$/);
    return true;
  });
  proxy.setPlan(() => undefined);
  assert.equal((proxy.injected.get('503') ?? 0) - before503, 3, 'exactly maxAttempts tries');
  assert.deepEqual(await direct.list(), [1]);
  assert.equal((await loadLatestCheckpoint(direct)).checkpoint?.manifest.id, 1);
  assert.ok((await direct.cleanupOrphans()).length > 0, 'the data of the failed save is an orphan');
});

test('a refusal (403) is not retried and surfaces as TIDEMARK_IO on the first attempt', async () => {
  const { faulty } = stores('refused');
  proxy.setPlan((req) => (isWrite(req) ? '403' : undefined));
  const before403 = proxy.injected.get('403') ?? 0;
  await assert.rejects(faulty.save(draft(1, 10, 'x')), (err: unknown) => {
    assert.ok(isTidemarkError(err, 'TIDEMARK_IO'), String(err));
    assert.match(err.message, /after 1 attempt:.*403/);
    return true;
  });
  proxy.setPlan(() => undefined);
  assert.equal((proxy.injected.get('403') ?? 0) - before403, 1);
});

test('a body damaged on the way down is never loaded: a passing flip is retried, a lasting one is TIDEMARK_CORRUPTION', async () => {
  const { faulty } = stores('flipped', { maxAttempts: 3 });
  await faulty.save(draft(1, 100, 'clean'));
  let flips = 0;
  proxy.setPlan((req) =>
    // state.base is packed into a shared object (CheckpointBatcher) when small.
    isRead(req) && req.method === 'GET' && /state\.base|batch-\d+\.bin/.test(req.url) && flips++ === 0
      ? 'flip'
      : undefined,
  );
  const once = await loadCheckpoint(faulty, 1);
  assert.equal(Buffer.from(once.state.get('key3')!).toString(), 'clean-3'.repeat(20));
  assert.equal(flips, 2, 'flipped once, then read again');

  proxy.setPlan((req) =>
    req.method === 'GET' && /state\.base|batch-\d+\.bin/.test(req.url) ? 'flip' : undefined,
  );
  await assert.rejects(loadCheckpoint(faulty, 1), (err: unknown) => {
    assert.ok(isTidemarkError(err, 'TIDEMARK_CORRUPTION'), String(err));
    assert.match(err.path ?? '', /state\.base$/);
    return true;
  });
  const latest = await loadLatestCheckpoint(faulty);
  assert.equal(latest.checkpoint, undefined, 'a checkpoint that does not read back whole is never loaded');
  assert.equal(latest.skipped[0]?.code, 'TIDEMARK_CORRUPTION');
  proxy.setPlan(() => undefined);
});
