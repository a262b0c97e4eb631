// The programs in examples/ run as documented (importing the built package as `tidemark`) and keep
// their promises: the HTTP service loses no acknowledged deposit to a SIGKILL, the consumer folds
// each event exactly once across SIGKILLs, the per-core setup recovers what its cores wrote.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { tmpDir } from '../helpers/tmp.ts';

const EXAMPLES = fileURLToPath(new URL('../../examples/', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TIMEOUT_MS = 20_000;

test('an example importing "tidemark" gets the built package (dist/index.js)', () => {
  const r = spawnSync(
    process.execPath,
    ['--input-type=module', '-e', "console.log(import.meta.resolve('tidemark'))"],
    {
      cwd: EXAMPLES,
      encoding: 'utf8',
    },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.equal(fileURLToPath(r.stdout.trim()), path.join(ROOT, 'dist', 'index.js'));
});

test('exactly-once-consumer: killed twice mid-batch and restarted, its state equals the crash-free fold', () => {
  const r = spawnSync(
    process.execPath,
    [path.join(EXAMPLES, 'exactly-once-consumer.mjs'), path.join(tmpDir('example-eo'), 'data')],
    { encoding: 'utf8', timeout: TIMEOUT_MS },
  );
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.equal((r.stdout.match(/: SIGKILL/g) ?? []).length, 2, r.stdout);
  assert.match(r.stdout, /recovered offset 5000\/5000, 13 keys, 0 mismatches/);
});

test('per-core-workers: worker-thread cores, a checkpoint taken while they write, recovery equals what they wrote', () => {
  const r = spawnSync(
    process.execPath,
    [path.join(EXAMPLES, 'per-core-workers.mjs'), path.join(tmpDir('example-cores'), 'data'), '--cores', '2'],
    { encoding: 'utf8', timeout: TIMEOUT_MS },
  );
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /recovered from checkpoint 2: 1000 keys, epoch \d+, 0 mismatches/);
});

/** Starts the HTTP example; resolves its base URL once it prints the port. */
function startService(dir: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [path.join(EXAMPLES, 'event-sourced-http.mjs'), dir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no port within ${TIMEOUT_MS} ms: ${stderr}`)),
      TIMEOUT_MS,
    );
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      const m = out.match(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1]! });
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`service exited (${code ?? signal}) before listening: ${stderr}`));
    });
  });
}

const exited = (child: ChildProcess) =>
  new Promise<NodeJS.Signals | null>((r) => child.once('exit', (_code, signal) => r(signal)));

async function balance(url: string, id: string): Promise<number> {
  const res = await fetch(`${url}/accounts/${id}`);
  assert.equal(res.status, 200);
  return ((await res.json()) as { balance: number }).balance;
}

test('event-sourced-http: every deposit answered 201 before a SIGKILL is in the balance after restart', async () => {
  const dir = path.join(tmpDir('example-http'), 'data');
  const accounts = ['alice', 'bob', 'carol'];
  const acked = new Map(accounts.map((a) => [a, 0]));
  const sent = new Map(accounts.map((a) => [a, 0]));
  const { child, url } = await startService(dir);
  const gone = exited(child);
  const N = 400;
  let next = 0;
  let ackedCount = 0;
  // 8 clients in parallel; the service is SIGKILLed while deposits are still in flight.
  const client = async () => {
    while (next < N) {
      const i = next++;
      const id = accounts[i % accounts.length]!;
      const amount = 1 + (i % 5);
      sent.set(id, sent.get(id)! + amount);
      if (i === N / 2) child.kill('SIGKILL');
      try {
        const res = await fetch(`${url}/accounts/${id}/deposit`, {
          method: 'POST',
          body: JSON.stringify({ amount }),
        });
        if (res.status === 201) {
          acked.set(id, acked.get(id)! + amount);
          ackedCount++;
        }
      } catch {
        return; // the service is gone: not acknowledged
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, client));
  assert.equal(await gone, 'SIGKILL');
  assert.ok(ackedCount >= N / 2 - 8, `only ${ackedCount} deposits were acknowledged before the kill`);

  const again = await startService(dir);
  try {
    for (const id of accounts) {
      const b = await balance(again.url, id);
      // Acknowledged ⊆ recovered ⊆ sent: nothing acknowledged lost, nothing invented.
      assert.ok(b >= acked.get(id)!, `${id}: balance ${b} < acknowledged ${acked.get(id)}`);
      assert.ok(b <= sent.get(id)!, `${id}: balance ${b} > sent ${sent.get(id)}`);
    }
    // The recovered service keeps appending after what it recovered.
    const before = await balance(again.url, 'alice');
    const res = await fetch(`${again.url}/accounts/alice/deposit`, {
      method: 'POST',
      body: JSON.stringify({ amount: 7 }),
    });
    assert.equal(res.status, 201);
    assert.equal(await balance(again.url, 'alice'), before + 7);
  } finally {
    const stopped = exited(again.child);
    again.child.kill('SIGTERM');
    assert.equal(await stopped, null, 'SIGTERM closes the store and exits 0');
  }
});
