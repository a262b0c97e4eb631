/**
 * Real power cuts on the kernel (../shared/infra recipe): a loop-mounted ext4 or XFS image, a
 * writer process, then `xfs_io -x -c shutdown` — the file system stops at once and drops all it
 * had not made durable, as a power cut would — then unmount, mount again, recover, and check
 * against the writer's acknowledgements.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { RecoveryManager } from '../../src/recovery/index.ts';

const WRITER = fileURLToPath(new URL('../helpers/powercut-writer.mjs', import.meta.url));

/** Why this machine cannot run real power cuts, or undefined when it can. */
export function powerCutUnavailable(fsType: 'ext4' | 'xfs'): string | undefined {
  if (process.getuid?.() !== 0) return 'not root: mount -o loop needs root';
  for (const tool of ['mount', 'umount', 'xfs_io', fsType === 'ext4' ? 'mkfs.ext4' : 'mkfs.xfs']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      return `${tool} is missing (apt-get install e2fsprogs xfsprogs)`;
    }
  }
  if (!fs.existsSync('/dev/loop-control')) return 'no loop devices (/dev/loop-control)';
  return undefined;
}

const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });

/** The value batch-keyed slot `k<slot>-<i>` holds after batches 1..n: the last batch b ≤ n with b % 500 = slot. */
function expectedValue(slot: number, n: number): string | undefined {
  const b = n - ((((n - slot) % 500) + 500) % 500);
  return b >= 1 ? `v${b}` : undefined;
}

export interface PowerCutResult {
  cycles: number;
  batchesAcknowledged: number;
  lost: number;
  holes: number;
}

/** Runs `cycles` power cuts on a fresh `fsType` image; alternates the ring and simple engines. */
export async function powerCutCycles(
  fsType: 'ext4' | 'xfs',
  cycles: number,
  seed: number,
): Promise<PowerCutResult> {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), `tidemark-powercut-${fsType}-`));
  const img = path.join(base, 'disk.img');
  const mnt = path.join(base, 'mnt');
  fs.mkdirSync(mnt);
  run('truncate', ['-s', '320M', img]);
  run(
    fsType === 'ext4' ? 'mkfs.ext4' : 'mkfs.xfs',
    fsType === 'ext4' ? ['-q', '-F', img] : ['-q', '-f', img],
  );
  run('mount', ['-o', 'loop', img, mnt]);
  let mounted = true;
  let random = seed >>> 0;
  const next = () => {
    random = (Math.imul(random, 1103515245) + 12345) >>> 0;
    return random / 2 ** 32;
  };
  const result: PowerCutResult = { cycles: 0, batchesAcknowledged: 0, lost: 0, holes: 0 };
  const data = path.join(mnt, 'data');
  try {
    for (let cycle = 0; cycle < cycles; cycle++) {
      const engine = cycle % 2 === 0 ? 'ring' : 'simple';
      const child = spawn(process.execPath, [WRITER, data, engine], { stdio: ['ignore', 'pipe', 'pipe'] });
      let acked = 0;
      let ready = false;
      let stderr = '';
      let buffered = '';
      child.stderr.on('data', (d) => {
        stderr += d;
      });
      const readyAt = new Promise<void>((resolve, reject) => {
        child.on('exit', (code) => {
          if (!ready) reject(new Error(`writer exited (${code}) before it was ready: ${stderr}`));
        });
        child.stdout.on('data', (d: Buffer) => {
          buffered += d.toString();
          let nl = buffered.indexOf('\n');
          while (nl >= 0) {
            const line = buffered.slice(0, nl);
            buffered = buffered.slice(nl + 1);
            if (line.startsWith('ack ')) acked = Number(line.slice(4));
            else if (line.startsWith('ready')) {
              ready = true;
              resolve();
            }
            nl = buffered.indexOf('\n');
          }
        });
      });
      await readyAt;
      await new Promise((r) => setTimeout(r, 20 + Math.floor(next() * 200)));
      run('xfs_io', ['-x', '-c', 'shutdown', mnt]); // the power cut: nothing more reaches the disk
      const ackedAtCut = acked;
      const exited = new Promise((r) => child.on('exit', r));
      child.kill('SIGKILL');
      await exited;
      run('umount', [mnt]);
      mounted = false;
      run('mount', ['-o', 'loop', img, mnt]);
      mounted = true;
      const r = await new RecoveryManager({ dir: data, transactional: true }).recover();
      const n = r.sourceOffsets.src ?? 0;
      result.cycles++;
      result.batchesAcknowledged = Math.max(result.batchesAcknowledged, ackedAtCut);
      if (n < ackedAtCut) result.lost++;
      let bad = false;
      for (let slot = 0; slot < 500 && !bad; slot++) {
        const want = expectedValue(slot, n);
        for (let i = 0; i < 10; i++) {
          const got = r.state.get(`k${slot}-${i}`);
          if ((got === undefined ? undefined : Buffer.from(got).toString()) !== want) bad = true;
        }
      }
      if (bad || r.state.size !== Math.min(n, 500) * 10) result.holes++;
      assert.ok(
        n >= ackedAtCut,
        `cycle ${cycle} (${fsType}, ${engine}): recovered ${n} batches, ${ackedAtCut} acknowledged`,
      );
      assert.ok(!bad, `cycle ${cycle} (${fsType}, ${engine}): state after batch ${n} differs from the model`);
    }
  } finally {
    if (mounted) {
      try {
        run('umount', [mnt]);
      } catch {
        run('umount', ['-l', mnt]);
      }
    }
    fs.rmSync(base, { recursive: true, force: true });
  }
  return result;
}

/**
 * Registers the power-cut test for `fsType`: `TIDEMARK_POWERCUT_CYCLES` cuts (default 50) with
 * seed `TIDEMARK_SEED`. Without root or tools it fails loudly, unless `TIDEMARK_SKIP_POWERCUT=1`
 * says to skip knowingly (and the skip says why).
 */
export function powerCutTest(fsType: 'ext4' | 'xfs'): void {
  const cycles = Number(process.env.TIDEMARK_POWERCUT_CYCLES ?? 50);
  const seed = Number(process.env.TIDEMARK_SEED ?? 1);
  test(`real power cuts on ${fsType} (xfs_io shutdown under a live writer): nothing acknowledged is lost, the state is an exact prefix`, async (t) => {
    const why = powerCutUnavailable(fsType);
    if (why !== undefined) {
      if (process.env.TIDEMARK_SKIP_POWERCUT === '1') {
        t.skip(`POWER-CUT TESTS NOT RUN: ${why}`);
        return;
      }
      assert.fail(
        `this machine cannot run real power cuts (${why}); set TIDEMARK_SKIP_POWERCUT=1 to skip them knowingly`,
      );
    }
    const r = await powerCutCycles(fsType, cycles, seed);
    t.diagnostic(
      `${fsType}: ${r.cycles} power cuts, up to ${r.batchesAcknowledged} batches acknowledged; lost ${r.lost}, holes ${r.holes} (seed ${seed})`,
    );
    assert.equal(r.cycles, cycles);
    assert.equal(r.lost, 0);
    assert.equal(r.holes, 0);
    assert.ok(r.batchesAcknowledged > cycles, 'the writer made progress between cuts');
  });
}
