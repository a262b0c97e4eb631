/**
 * `tidemark demo`: runs the ingest worker as a child process, SIGKILLs it at seeded random
 * moments, restarts it until the stream is done, then checks the recovered state against an
 * in-memory reference computed without crashes.
 */
import { fork } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import cliProgress from 'cli-progress';
import { type CheckpointStore, FileSystemCheckpointStore } from '../../checkpoint/checkpoint-store.js';
import { ObjectStoreCheckpointStore } from '../../checkpoint/object-store-checkpoint-store.js';
import { TidemarkError } from '../../errors.js';
import { createObjectStorage } from '../../io/file-object-storage.js';
import { FsDirectory } from '../../io/fs-directory.js';
import { parseObjectStoreUrl } from '../../io/object-store-config.js';
import { recoverPerCore } from '../../recovery/per-core-recovery.js';
import { RecoveryManager } from '../../recovery/recovery-manager.js';
import { restoreFromObjectStore } from '../../recovery/restore-from-object-store.js';
import { restorePerCoreFromObjectStore } from '../../recovery/restore-per-core-from-object-store.js';
import { CHECKPOINT_DIR_NAME, WAL_DIR_NAME } from '../../recovery/storage-location.js';
import { LOCAL_EPOCH_FILE } from '../../recovery/writer-claim.js';
import { mulberry32 } from '../../testing/prng.js';
import { resultFromState } from './aggregates.js';
import { type DemoResult, flightsRowCount, referenceResult } from './flights.js';
import { type DemoEngine, FENCED_EXIT_CODE, SOURCE, type WorkerMessage } from './worker.js';

export interface DemoOptions {
  dir: string;
  limit: number | undefined;
  crashes: number;
  seed: number;
  out: string | undefined;
  batchRows: number;
  checkpointEveryRows: number;
  /** The store the worker drives (default 'ring', the Ring 0 / Ring 1 pipeline). */
  engine: DemoEngine;
  /** Path of the CLI entry script, run again in the child. */
  cliScript: string;
  /** `s3://BUCKET/PREFIX`: checkpoints and the WAL archive go there (the prefix is wiped at start). */
  store?: string | undefined;
  /** Thread-per-core ingest with this many cores (each its own state and log); undefined: one WAL. */
  cores?: number | undefined;
  /**
   * With `store`: this many takeovers (default 0). At each, the running worker is frozen with
   * SIGSTOP, a new worker takes over the object store from a fresh directory ("another
   * machine"), and the frozen one is resumed with SIGCONT: it must be fenced (exit
   * {@link FENCED_EXIT_CODE}) with nothing of its own visible. The final state is then restored
   * from the object store alone into a fresh directory and verified.
   */
  takeovers?: number | undefined;
}

export interface DemoSummary {
  verified: boolean;
  rows: number;
  crashes: number;
  /** Takeovers made, and how many of the replaced writers were fenced when resumed. */
  takeovers: { made: number; fenced: number };
  result: DemoResult;
}

/** Bytes and count of the WAL segment files under `walDir` (per-core logs live one level down). */
function walOnDisk(walDir: string): { bytes: number; segments: number } {
  let bytes = 0;
  let segments = 0;
  const visit = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) visit(p);
      else if (/^wal-\d+\.log$/.test(e.name)) {
        bytes += fs.statSync(p).size;
        segments++;
      }
    }
  };
  if (fs.existsSync(walDir)) visit(walDir);
  return { bytes, segments };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

/** Where a takeover's worker runs (a fresh directory inside the demo's: "another machine"). */
function machineDir(dir: string, takeover: number): string {
  return path.join(dir, `machine-${takeover}`);
}
/** Where the final state is restored from the object store alone, after takeovers. */
const RESTORED_DIR = 'restored';

/** Wipes `dir` when it is missing, empty or a previous demo's; refuses anything else. */
function prepareDir(dir: string): void {
  if (fs.existsSync(dir)) {
    const entries = fs
      .readdirSync(dir)
      .filter(
        (e) =>
          !['wal', 'checkpoints', 'LOCK', LOCAL_EPOCH_FILE, RESTORED_DIR].includes(e) &&
          !/^machine-\d+$/.test(e),
      );
    if (entries.length > 0) {
      throw new TidemarkError(
        'TIDEMARK_INVALID_ARGUMENT',
        `${dir} holds files that are not a tidemark demo's (${entries.slice(0, 3).join(', ')}); pick another --dir`,
        {
          path: dir,
        },
      );
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
  fs.mkdirSync(dir, { recursive: true });
}

/** Deletes every object under the demo's prefix, so each run starts from nothing. */
async function prepareObjectStore(url: string, log: (line: string) => void): Promise<void> {
  const config = parseObjectStoreUrl(url);
  if (config.prefix === '' && config.directory === undefined)
    throw new TidemarkError(
      'TIDEMARK_INVALID_ARGUMENT',
      `${url}: the demo wipes its prefix at start, so give it one of its own (s3://BUCKET/PREFIX)`,
    );
  const storage = createObjectStorage(config);
  try {
    const objects = await storage.list('');
    if (objects.length > 0) log(`wiping ${objects.length} objects under ${storage.url} (a previous run)`);
    await storage.delete(objects.map((o) => o.key));
  } finally {
    storage.destroy();
  }
}

/** State of a per-core demo directory: every core's log merged onto the latest checkpoint. */
async function recoverCores(
  dir: string,
  cores: number,
  objectStore: string | undefined,
): Promise<{ state: Iterable<[string, Uint8Array]>; rows: number; checkpointId: number | undefined }> {
  const remote =
    objectStore === undefined ? undefined : new ObjectStoreCheckpointStore(parseObjectStoreUrl(objectStore));
  const store: CheckpointStore =
    remote ?? new FileSystemCheckpointStore(await FsDirectory.open(path.join(dir, CHECKPOINT_DIR_NAME)));
  const r = await recoverPerCore({
    walRoot: await FsDirectory.open(path.join(dir, WAL_DIR_NAME)),
    store,
    cores,
    transactional: true,
  }).finally(() => remote?.close());
  const rows = Math.min(
    ...Array.from({ length: cores }, (_, c) => r.cores.get(c)?.sourceOffsets[SOURCE] ?? 0),
  );
  return { state: r.state, rows, checkpointId: r.checkpointId };
}

export async function runDemo(opts: DemoOptions, log: (line: string) => void): Promise<DemoSummary> {
  const takeovers = opts.takeovers ?? 0;
  if (takeovers > 0 && opts.store === undefined)
    throw new TidemarkError(
      'TIDEMARK_INVALID_ARGUMENT',
      '--takeovers needs --store: a takeover is of an object store',
      {
        argument: '--takeovers',
      },
    );
  const dir = path.resolve(opts.dir);
  prepareDir(dir);
  if (opts.store) await prepareObjectStore(opts.store, log);
  const total = Math.min(opts.limit ?? Number.POSITIVE_INFINITY, await flightsRowCount());
  const random = mulberry32(opts.seed);
  const killAt = Array.from({ length: opts.crashes }, () => Math.floor(random() * total)).sort(
    (a, b) => a - b,
  );
  // Drawn after the kills, so a seed gives the same kill schedule with or without takeovers.
  const takeoverAt = Array.from({ length: takeovers }, () => Math.floor(random() * total)).sort(
    (a, b) => a - b,
  );
  const events = [
    ...killAt.map((row) => ({ row, kind: 'kill' as const })),
    ...takeoverAt.map((row) => ({ row, kind: 'takeover' as const })),
  ].sort((a, b) => a.row - b.row);
  log(
    `tidemark demo: ${total.toLocaleString('en-US')} flights → ${dir}; ${opts.crashes} SIGKILLs at rows ${killAt.join(', ') || '-'}${takeovers > 0 ? `; ${takeovers} takeovers at rows ${takeoverAt.join(', ')}` : ''} (seed ${opts.seed}, ${opts.cores ? `${opts.cores} cores, one WAL each` : `engine ${opts.engine}`})`,
  );

  const bar = process.stdout.isTTY
    ? new cliProgress.SingleBar(
        {
          format: 'ingest [{bar}] {percentage}% | {value}/{total} rows | crashes {crashes}',
          hideCursor: true,
        },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  bar?.start(total, 0, { crashes: 0 });

  const t0 = performance.now();
  const recoveryMs: number[] = [];
  let crashes = 0;
  let walBytes = 0;
  let syncs = 0;
  let checkpoints = 0;
  let deltas = 0;
  let nextEvent = 0;
  let finished = false;
  let lastLine = 0;
  // The writer's directory: `dir`, then a fresh one per takeover.
  let writerDir = dir;
  let takeoverNext = false;
  /** Replaced writers, frozen until their successor has recovered; each must end fenced. */
  const zombies: {
    pid: number | undefined;
    exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  }[] = [];
  const frozen: ReturnType<typeof fork>[] = [];
  let fenced = 0;

  // A failure must not leave a frozen writer behind (its IPC channel would also keep this
  // process alive): every zombie still stopped is killed on the way out.
  const killZombies = () => {
    for (const z of frozen.splice(0)) z.kill('SIGKILL');
  };
  try {
    while (!finished) {
      if (crashes > opts.crashes + 3)
        throw new TidemarkError('TIDEMARK_BUG', 'the worker keeps dying without being killed');
      const child = fork(
        opts.cliScript,
        [
          'demo-worker',
          '--dir',
          writerDir,
          '--limit',
          String(total),
          '--batch',
          String(opts.batchRows),
          '--checkpoint-every',
          String(opts.checkpointEveryRows),
          '--engine',
          opts.engine,
          ...(opts.store ? ['--store', opts.store] : []),
          ...(opts.cores ? ['--cores', String(opts.cores)] : []),
          ...(takeoverNext ? ['--takeover'] : []),
        ],
        { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
      );
      takeoverNext = false;
      let last = { walBytes: 0, syncs: 0, checkpoints: 0, deltas: 0 };
      let killed = false;
      let replace: (() => void) | undefined;
      const replaced = new Promise<'replaced'>((resolve) => {
        replace = () => resolve('replaced');
      });
      const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
        child.on('exit', (code, signal) => resolve({ code, signal })),
      );
      child.on('message', (msg: WorkerMessage) => {
        if (msg.type === 'recovered') {
          recoveryMs.push(msg.recoveryMs);
          if (!bar)
            log(
              `  worker ${child.pid}: recovered at row ${msg.rows} in ${msg.recoveryMs.toFixed(1)} ms (checkpoint ${msg.checkpointId ?? 'none'}, ${msg.recordsReplayed} WAL records replayed)`,
            );
          // The successor holds the new epoch: wake the writers it replaced, who must find out.
          for (const z of frozen.splice(0)) z.kill('SIGCONT');
        } else if (msg.type === 'checkpointed') {
          checkpoints++;
          if (msg.kind === 'delta') deltas++;
        } else if (msg.type === 'fenced') {
          if (!bar) log(`  worker ${child.pid}: fenced (${msg.message.split(':')[0]})`);
        } else if (msg.type === 'progress' || msg.type === 'done') {
          last = msg;
          bar?.update(msg.rows, { crashes });
          if (!bar && msg.type === 'progress' && performance.now() - lastLine > 2000) {
            lastLine = performance.now();
            log(
              `  ${msg.rows.toLocaleString('en-US')} rows committed, ${msg.durableRows.toLocaleString('en-US')} durable`,
            );
          }
          const event = events[nextEvent];
          if (msg.type === 'progress' && !killed && event !== undefined && msg.rows >= event.row) {
            killed = true;
            nextEvent++;
            if (event.kind === 'kill') {
              // A random extra delay so the kill lands anywhere: mid-batch, mid-fdatasync, mid-checkpoint.
              setTimeout(() => child.kill('SIGKILL'), Math.floor(random() * 25));
            } else {
              // Frozen anywhere: mid-batch, mid-archive, between a fence check and its publish.
              setTimeout(
                () => {
                  child.kill('SIGSTOP');
                  replace?.();
                },
                Math.floor(random() * 25),
              );
            }
          }
        }
      });
      const outcome = await Promise.race([exit, replaced]);
      walBytes += last.walBytes;
      syncs += last.syncs;
      if (outcome === 'replaced') {
        const made = zombies.length + 1;
        zombies.push({ pid: child.pid, exit });
        frozen.push(child);
        writerDir = machineDir(dir, made);
        takeoverNext = true;
        if (!bar)
          log(
            `  takeover #${made}: worker ${child.pid} frozen (SIGSTOP); a new writer takes over from ${writerDir}`,
          );
        continue;
      }
      const { code, signal } = outcome;
      if (signal === 'SIGKILL' && killed) {
        crashes++;
        if (!bar) log(`  SIGKILL #${crashes} delivered to worker ${child.pid}`);
        continue;
      }
      if (code !== 0)
        throw new TidemarkError('TIDEMARK_BUG', `demo worker exited with ${signal ?? `code ${code}`}`);
      finished = true;
    }
  } catch (err) {
    killZombies();
    throw err;
  }
  bar?.stop();
  const elapsedS = (performance.now() - t0) / 1000;
  // Every replaced writer was resumed once its successor recovered; each must have stopped fenced.
  for (const z of frozen.splice(0)) z.kill('SIGCONT');
  const zombieProblems: string[] = [];
  for (const z of zombies) {
    const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 60_000).unref());
    const end = await Promise.race([z.exit, timeout]);
    if (end === 'timeout') {
      process.kill(z.pid ?? 0, 'SIGKILL');
      zombieProblems.push(`worker ${z.pid} was not fenced within 60 s of its resumption`);
    } else if (end.code === FENCED_EXIT_CODE) fenced++;
    else zombieProblems.push(`worker ${z.pid} ended with ${end.signal ?? `code ${end.code}`}, not fenced`);
  }

  const { state, rows, checkpointId } = opts.cores
    ? takeovers > 0
      ? await (async () => {
          // After takeovers, "another machine" again: the object store alone, into a fresh directory.
          const restoredDir = path.join(dir, RESTORED_DIR);
          await restorePerCoreFromObjectStore({ from: opts.store!, dir: restoredDir, cores: opts.cores });
          return recoverCores(restoredDir, opts.cores!, undefined);
        })()
      : await recoverCores(dir, opts.cores, opts.store)
    : takeovers > 0
      ? await (async () => {
          // After takeovers, "another machine" again: the object store alone, into a fresh directory.
          const restoredDir = path.join(dir, RESTORED_DIR);
          await restoreFromObjectStore({ from: opts.store!, dir: restoredDir });
          const r = await new RecoveryManager({ dir: restoredDir, transactional: true }).recover();
          return { state: r.state, rows: r.sourceOffsets[SOURCE] ?? 0, checkpointId: r.stats.checkpointId };
        })()
      : await (async () => {
          const r = await new RecoveryManager({
            dir,
            transactional: true,
            objectStore: opts.store,
          }).recover();
          return { state: r.state, rows: r.sourceOffsets[SOURCE] ?? 0, checkpointId: r.stats.checkpointId };
        })();
  const onDisk = walOnDisk(path.join(dir, WAL_DIR_NAME));
  const result = resultFromState(state, rows);
  log('computing the reference without crashes…');
  const reference = await referenceResult(total);
  const verified = isDeepStrictEqual(result, reference) && zombieProblems.length === 0;
  if (opts.out) fs.writeFileSync(opts.out, `${JSON.stringify(result)}\n`);

  const sorted = [...recoveryMs].sort((a, b) => a - b);
  log('');
  log(
    `events          ${rows.toLocaleString('en-US')} flights (${(rows / elapsedS).toFixed(0)} events/s over ${elapsedS.toFixed(1)} s, restarts included)`,
  );
  log(`crashes         ${crashes} SIGKILLs`);
  if (takeovers > 0)
    log(
      `takeovers       ${zombies.length} (each writer frozen, replaced from a fresh directory, resumed): ${fenced} fenced${zombieProblems.length > 0 ? `; ${zombieProblems.join('; ')}` : ''}; final state restored from the object store alone`,
    );
  log(
    `recovery        p50 ${percentile(sorted, 0.5).toFixed(1)} ms, max ${(sorted[sorted.length - 1] ?? 0).toFixed(1)} ms over ${sorted.length} starts`,
  );
  log(
    `WAL written     ${walBytes.toLocaleString('en-US')} bytes (as last reported by each worker before it was killed)`,
  );
  log(
    `WAL on disk     ${onDisk.bytes.toLocaleString('en-US')} bytes in ${onDisk.segments} segment files now`,
  );
  if (opts.cores) {
    log(
      `checkpoints     ${checkpoints} published (${deltas} per-core deltas, ${checkpoints - deltas} bases); final recovery started from checkpoint ${checkpointId ?? 'none'}`,
    );
  } else {
    // A worker killed between a publish and its report leaves that checkpoint uncounted; the
    // checkpoint recovery used is read from the directory itself.
    log(
      `checkpoints     ${checkpointId === undefined ? 'none used: final recovery replayed the WAL from its start' : `final recovery started from checkpoint ${checkpointId}`}; ${checkpoints} reported as published (${deltas} deltas, ${checkpoints - deltas} bases)`,
    );
  }
  log(`fdatasyncs      ${syncs} (each an O_DSYNC group write or an fdatasync call)`);
  log(
    `state           ${Object.keys(result.origins).length} origins, ${Object.keys(result.routes).length} routes`,
  );
  if (opts.out) log(`output          ${opts.out}`);
  if (opts.store) {
    log(`object store    ${opts.store} (checkpoints and archived WAL segments)`);
    log(
      `  on another machine: tidemark recover --from ${opts.store} --dir DIR${opts.cores ? ` --cores ${opts.cores}` : ''} --transactional --out FILE`,
    );
  }
  log(
    verified
      ? 'VERIFIED: recovered state equals the crash-free reference'
      : 'MISMATCH: recovered state differs from the crash-free reference',
  );
  if (!verified) {
    for (const k of Object.keys(reference.origins)) {
      if (!isDeepStrictEqual(reference.origins[k], result.origins[k])) {
        log(
          `  origin ${k}: expected ${JSON.stringify(reference.origins[k])}, got ${JSON.stringify(result.origins[k])}`,
        );
        break;
      }
    }
    if (reference.rows !== result.rows) log(`  rows: expected ${reference.rows}, got ${result.rows}`);
  }
  return { verified, rows, crashes, takeovers: { made: zombies.length, fenced }, result };
}
