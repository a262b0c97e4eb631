// Zombie per-core writers on the real radosgw started by scripts/run-tests.mjs, with real
// processes (a short version of fencing-zombie.test.ts for the per-core engine): a chain of
// per-core writer processes on one prefix, each taking over from the previous one while it is
// frozen with SIGSTOP; resumed with SIGCONT, the frozen writer must be fenced, and nothing it
// wrote after the takeover is ever visible. The prefix is then restored on a fresh directory:
// every acknowledged write of the last owner is there, no write of a resumed zombie is. Uses the
// compiled package (`npm run build`).
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import * as path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FileSystemCheckpointStore } from '../../src/checkpoint/index.ts';
import { FsDirectory } from '../../src/io/index.ts';
import { recoverPerCore, restorePerCoreFromObjectStore } from '../../src/recovery/index.ts';
import { testObjectStore } from '../helpers/s3.ts';
import { tmpDir } from '../helpers/tmp.ts';

const CHILD = fileURLToPath(new URL('../helpers/per-core-zombie-child.mjs', import.meta.url));
const ROUNDS = 4;

interface Writer {
  label: string;
  child: ChildProcess;
  lines: string[];
  acked: string[];
  exit: Promise<number | null>;
  waitFor(line: (l: string) => boolean, timeoutMs: number): Promise<string>;
}

function startWriter(dir: string, objectStore: object, label: string): Writer {
  const child = spawn(process.execPath, [CHILD, dir, JSON.stringify(objectStore), label], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  });
  const lines: string[] = [];
  const acked: string[] = [];
  let stderr = '';
  const waiters: (() => void)[] = [];
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      lines.push(line);
      if (line.startsWith('ack ')) acked.push(line.slice(4));
    }
    for (const w of waiters.splice(0)) w();
  });
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    label,
    child,
    lines,
    acked,
    exit,
    async waitFor(match, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = lines.find(match);
        if (found !== undefined) return found;
        if (child.exitCode !== null || Date.now() > deadline)
          throw new Error(
            `${label}: no matching line (exit ${child.exitCode}); stdout tail ${lines.slice(-5).join(' | ')}; stderr ${stderr}`,
          );
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 50);
        });
      }
    },
  };
}

test(`${ROUNDS} takeovers of a SIGSTOPped per-core writer: each resumed zombie is fenced, and nothing it wrote after the takeover is ever visible`, async () => {
  const seed = Number(process.env.TIDEMARK_SEED ?? Date.now() % 1_000_000);
  console.log(`# seed ${seed} (TIDEMARK_SEED=${seed} to replay)`);
  let s = seed >>> 0;
  const rand = (lo: number, hi: number) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return lo + (s % (hi - lo + 1));
  };
  const root = tmpDir('per-core-fencing-zombie');
  const objectStore = testObjectStore('per-core-fencing-zombie', { requestTimeoutMs: 5000 });
  const writers: Writer[] = [];
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  let owner = startWriter(path.join(root, 'w0'), objectStore, 'w0');
  writers.push(owner);
  await owner.waitFor((l) => l.startsWith('ack '), 20_000);
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      await sleep(rand(100, 400)); // the owner writes, checkpoints and archives for a while
      owner.child.kill('SIGSTOP');
      const zombie = owner;
      owner = startWriter(path.join(root, `w${round}`), objectStore, `w${round}`);
      writers.push(owner);
      await owner.waitFor((l) => l.startsWith('ack '), 20_000);
      await sleep(rand(0, 150)); // the new owner writes
      zombie.child.kill('SIGCONT');
      zombie.child.stdin!.write('resumed\n');
      const tFence = Date.now();
      await zombie.waitFor((l) => l === 'fenced', 15_000);
      console.log(`# round ${round}: fenced after ${Date.now() - tFence} ms`);
      assert.equal(await zombie.exit, 3, `${zombie.label} exits as fenced`);
    }
    owner.child.stdin!.write('close\n');
    await owner.waitFor((l) => l === 'closed', 20_000);
    assert.equal(await owner.exit, 0);
  } finally {
    for (const w of writers) if (w.child.exitCode === null) w.child.kill('SIGKILL');
  }

  const dir = path.join(root, 'restored');
  await restorePerCoreFromObjectStore({ from: objectStore, dir, cores: 2 });
  const { state } = await recoverPerCore({
    walRoot: await FsDirectory.open(path.join(dir, 'wal')),
    store: new FileSystemCheckpointStore(await FsDirectory.open(path.join(dir, 'checkpoints'))),
    cores: 2,
  });
  const keys = new Set([...state.keys()]);
  for (const key of owner.acked) assert.ok(keys.has(key), `the last owner's acknowledged ${key} is there`);
  const zombieKeys = [...keys].filter((k) => k.includes('-z-'));
  assert.deepEqual(zombieKeys, [], 'nothing a zombie wrote after its resume is visible');
  // Each takeover recovered a growing history.
  const opens = writers.map((w) => Number(w.lines.find((l) => l.startsWith('open '))!.slice(5)));
  for (let i = 1; i < opens.length; i++)
    assert.ok(opens[i]! >= opens[i - 1]!, `open counts ${opens.join(',')}`);
});
