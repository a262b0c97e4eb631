import assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { test } from 'node:test';
import { tmpDir } from '../helpers/tmp.ts';

const CONTENDER = new URL('../helpers/lock-contender.ts', import.meta.url).pathname;
const CONTENDERS = 6;
const ROUNDS = 24;

interface Contender {
  child: ChildProcessWithoutNullStreams;
  next(): Promise<string>;
}

async function startContender(): Promise<Contender> {
  const child = spawn(process.execPath, ['--import', 'tsx', CONTENDER], { stdio: ['pipe', 'pipe', 'pipe'] });
  child.stderr.on('data', (d: Buffer) => process.stderr.write(d));
  const lines: string[] = [];
  const waiters: ((line: string) => void)[] = [];
  readline.createInterface({ input: child.stdout }).on('line', (line) => {
    const w = waiters.shift();
    if (w) w(line);
    else lines.push(line);
  });
  const next = () =>
    new Promise<string>((resolve) => {
      const line = lines.shift();
      if (line !== undefined) resolve(line);
      else waiters.push(resolve);
    });
  assert.equal(await next(), 'ready');
  return { child, next };
}

function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '']);
  return r.pid!;
}

function bootId(): string {
  return fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
}

/** Leaves a stale lock in `dir` in one of the shapes a dead or rebooted owner leaves. */
function plantStaleLock(dir: string, round: number): string {
  const lock = path.join(dir, 'LOCK');
  const shapes = [
    () => fs.writeFileSync(lock, `pid=${deadPid()} start=1 boot=${bootId()} token=dead\n`),
    () => fs.writeFileSync(lock, ''), // killed between create and write (older releases)
    () => fs.writeFileSync(lock, '\0\0\0\0garbage'),
    // A live pid, written before a reboot: the pid was reused.
    () =>
      fs.writeFileSync(
        lock,
        `pid=${process.pid} start=1 boot=00000000-0000-0000-0000-000000000000 token=old\n`,
      ),
    // A live pid whose start time differs: reused since.
    () => fs.writeFileSync(lock, `pid=${process.pid} start=1 boot=${bootId()} token=reused\n`),
    () => {
      // A contender killed in the middle of a takeover left its claim behind.
      fs.writeFileSync(lock, `pid=${deadPid()} start=1 boot=${bootId()} token=dead\n`);
      const ino = fs.statSync(lock, { bigint: true }).ino;
      fs.writeFileSync(path.join(dir, `LOCK.takeover-${ino}`), `pid=${deadPid()} start=1 token=claim\n`);
    },
  ];
  const shape = round % shapes.length;
  shapes[shape]!();
  return `shape ${shape}`;
}

test('contenders that find the same stale lock at the same instant: exactly one takes it over, every other gets TIDEMARK_LOCKED', async () => {
  const dir = tmpDir('lock-race');
  const contenders: Contender[] = [];
  for (let i = 0; i < CONTENDERS; i++) contenders.push(await startContender());
  try {
    let killed = 0;
    for (let round = 0; round < ROUNDS; round++) {
      // Every fourth round the stale lock is a real one: last round's winner was SIGKILLed.
      const real = round > 0 && round % 4 === 0;
      const shape = real ? 'left by a SIGKILLed winner' : plantStaleLock(dir, round);
      const at = Date.now() + 150;
      for (const c of contenders) c.child.stdin.write(`go ${dir} ${at}\n`);
      const results = await Promise.all(contenders.map((c) => c.next()));
      const winners = results.flatMap((r, i) => (r === 'won' ? [i] : []));
      assert.equal(winners.length, 1, `round ${round} (${shape}): ${results.join(', ')}`);
      assert.deepEqual(
        results.filter((r) => r !== 'won'),
        Array(CONTENDERS - 1).fill('TIDEMARK_LOCKED'),
        `round ${round} (${shape})`,
      );
      const winner = contenders[winners[0]!]!;
      const owner = fs.readFileSync(path.join(dir, 'LOCK'), 'utf8');
      assert.match(owner, new RegExp(`^pid=${winner.child.pid} `), `round ${round}: LOCK names the winner`);
      assert.deepEqual(fs.readdirSync(dir), ['LOCK'], `round ${round}: no claim or pending file left`);
      if ((round + 1) % 4 === 0) {
        winner.child.kill('SIGKILL');
        await new Promise((r) => winner.child.once('exit', r));
        contenders[winners[0]!] = await startContender();
        killed++;
      } else {
        winner.child.stdin.write('release\n');
        assert.equal(await winner.next(), 'released');
        assert.deepEqual(fs.readdirSync(dir), [], `round ${round}: released`);
      }
    }
    assert.ok(killed >= 5);
  } finally {
    for (const c of contenders) c.child.kill('SIGKILL');
  }
});
