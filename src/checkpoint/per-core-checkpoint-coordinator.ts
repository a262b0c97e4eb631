/**
 * `PerCoreCheckpointCoordinator` (the seed's): checkpoints a thread-per-core system whose cores
 * each write their own log, without pausing them and without reading their memory.
 *
 * 1. advance the epoch to E and ask every core for an EpochBarrier(E), made durable — each core
 *    answers with its synced position after the barrier;
 * 2. replay every core's log from the previous checkpoint up to that position, merged by
 *    (epoch, timestampNs, coreId, sequence), onto the coordinator's own copy of the state;
 * 3. write the checkpoint — the state (a base), or only the keys changed since the previous
 *    checkpoint (a delta, with tombstones; chains bounded by `maxChainLength` and
 *    `maxDeltaRatio`, then a fresh base, as the single-log engine's incremental checkpoints),
 *    each core's synced position and committed source offsets — and publish it (the manifest is
 *    the commit point);
 * 4. append a "checkpoint committed" marker to every core's log and wait until every one is
 *    durable (the publish order of PostgreSQL's checkpoint record and of this project's single
 *    WAL: checkpoint durable → marker durable → only then delete WAL);
 * 5. retention, then truncate each core only below what every retained checkpoint covers of it.
 *
 * If a core does not answer within `barrierTimeoutMs`, the checkpoint is abandoned with
 * `TIDEMARK_TIMEOUT`: nothing is published and nothing truncated — no core is ever truncated
 * past its durable position. If a marker cannot be made durable (or does not come within
 * `barrierTimeoutMs`) the checkpoint stays published but no core is truncated. Each step is
 * published on `tidemark:per-core-checkpoint`.
 */
import * as diagnostics from 'node:diagnostics_channel';
import { type CheckpointSpanContext, traceAsync, tracing } from '../diagnostics.js';
import { TidemarkError } from '../errors.js';
import type { CheckpointManifest, ConnectorCheckpoint } from '../format/checkpoint-manifest.js';
import type { Directory } from '../io/directory.js';
import { PerCoreReplayer, type PerCoreTarget } from '../state/per-core-replayer.js';
import { copyStateBackend, createStateBackend, type StateBackendKind } from '../state/state-backend.js';
import {
  checkCheckpointStoreArgument,
  checkDirectoryArgument,
  checkOptionsObject,
  invalidArgument,
} from '../validation.js';
import { mergeSegments, PerCoreWalReader } from '../wal/per-core-wal-reader.js';
import type { WalPosition } from '../wal/wal-reader.js';
import { DEFAULT_MIN_RETAINED_BASES, loadLatestCheckpoint, pruneCheckpoints } from './checkpoint-chain.js';
import { type CheckpointOptions, resolveCheckpointOptions } from './checkpoint-config.js';
import { chooseCheckpointKind } from './checkpoint-kind.js';
import type { CheckpointStore } from './checkpoint-store.js';
import { collectFencedObjects } from './fenced-object-gc.js';
import { ObjectStoreCheckpointStore } from './object-store-checkpoint-store.js';
import { perCoreCheckpointDraft } from './per-core-checkpoint-draft.js';

/** Channel of the coordinator's steps: `{ step, checkpointId, epoch }`. */
export const PER_CORE_CHECKPOINT_CHANNEL = 'tidemark:per-core-checkpoint';
const channel = diagnostics.channel(PER_CORE_CHECKPOINT_CHANNEL);
/** Steps, in order. */
export const PER_CORE_CHECKPOINT_STEPS = [
  'begin',
  'barriers-durable',
  'replayed',
  'published',
  'markers-durable',
  'pruned',
  'truncated',
] as const;
/** One step of a per-core checkpoint (see {@link PER_CORE_CHECKPOINT_STEPS}). */
export type PerCoreCheckpointStep = (typeof PER_CORE_CHECKPOINT_STEPS)[number];

function emit(step: PerCoreCheckpointStep, checkpointId: number, epoch: number): void {
  if (channel.hasSubscribers) channel.publish({ step, checkpointId, epoch });
}

/** One core, as the coordinator sees it (in this thread, or a proxy to a worker thread). */
export interface CoreCheckpointParticipant {
  /** The core this participant writes for (its `core-<id>/` WAL directory). */
  readonly coreId: number;
  /** Appends EpochBarrier(`epoch`), makes it durable, resolves the synced position after it. */
  barrier(epoch: number): Promise<WalPosition>;
  /**
   * Appends a Checkpoint marker for `checkpointId` covering the core up to `position` (the
   * position its barrier answered) and resolves once it is durable
   * (see `CoreWalWriter.markCheckpoint`). Called only after the checkpoint is published.
   */
  markCheckpoint(options: { checkpointId: number; position: WalPosition }): Promise<number>;
  /** Deletes the core's segments wholly before `position`. */
  truncateBefore(position: WalPosition): Promise<number>;
}

/** Options of {@link PerCoreCheckpointCoordinator.open}. */
export interface PerCoreCheckpointOptions {
  /** Where checkpoints are published (a `CheckpointStore`: local directory or object store). */
  store: CheckpointStore;
  /** The WAL root holding `core-<id>/` (read here; written only by the cores). */
  walRoot: Directory;
  /** One participant per core, each the owner of its core's WAL writer. */
  participants: readonly CoreCheckpointParticipant[];
  /** Only committed batches enter a checkpoint (per core). Default false. */
  transactional?: boolean;
  /** How long a core may take to make its barrier durable. Default 10,000 ms. */
  barrierTimeoutMs?: number;
  /** Recoverable checkpoints kept. Default 2. */
  maxRetained?: number;
  /** Distinct bases kept at least, so one damaged checkpoint has a fallback (see `RetentionPolicy`). Default 2. */
  minRetainedBases?: number;
  /** Write deltas (keys changed since the previous checkpoint) when allowed; false: every checkpoint is a base. Default true. */
  incremental?: boolean;
  /** After this many deltas on one base, the next checkpoint is a base. Default 8. */
  maxChainLength?: number;
  /** Once the delta files since the base exceed this fraction of the base file's size, the next checkpoint is a base. Default 0.5. */
  maxDeltaRatio?: number;
  /**
   * The epoch the cores' writers are at (after `PerCoreRecoveryManager.open()`:
   * `recovered.epoch + 1`); the next checkpoint's barrier starts the epoch after it. Default:
   * the latest checkpoint's epoch.
   */
  epoch?: number;
}

/** What one checkpoint did. */
export interface PerCoreCheckpointResult {
  /** The published checkpoint's id (never reused). */
  id: number;
  /** The epoch the checkpoint closes: every core's entries of this epoch and before are in it. */
  epoch: number;
  /** Each core's synced position the checkpoint covers. */
  positions: Record<string, WalPosition>;
  /** Keys in the checkpointed state. */
  keys: number;
  /** `base` (every key) or `delta` (the keys changed since its parent). */
  kind: 'base' | 'delta';
  /** Deltas between this checkpoint and its base (0 for a base). */
  chainLength: number;
  /** Entries in the state file: every key for a base, changed keys and tombstones for a delta. */
  keysWritten: number;
  /** Of `keysWritten`, keys deleted since the parent. */
  tombstones: number;
  /** Per-core WAL entries merged into the state for this checkpoint. */
  entriesReplayed: number;
  /** Bytes of the state file written. */
  stateBytes: number;
  /** WAL segments deleted (wholly before the covered positions) after the publish. */
  segmentsTruncated: number;
  /** Wall time of the whole checkpoint, barrier to truncation, in milliseconds. */
  durationMs: number;
}

/** Connector name under which core `coreId`'s committed offsets are kept in a manifest. */
export function coreConnectorName(coreId: number): string {
  return `core-${coreId}`;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new TidemarkError('TIDEMARK_TIMEOUT', `${what} did not answer within ${ms} ms`)),
      ms,
    );
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** Reads a manifest's per-core progress back: positions and committed offsets by core. */
export function perCoreProgressOf(
  manifest: CheckpointManifest | undefined,
  options: { stateBackend?: StateBackendKind | undefined } = {},
): {
  positions: Map<number, WalPosition>;
  target: PerCoreTarget;
} {
  const positions = new Map<number, WalPosition>();
  const target: PerCoreTarget = {
    state: createStateBackend(options.stateBackend),
    epoch: manifest?.epoch ?? 0,
    cores: new Map(),
  };
  if (!manifest) return { positions, target };
  for (const [id, p] of Object.entries(manifest.perCoreWalPositions)) {
    const lsn = (p as { lsn?: number }).lsn ?? 1;
    positions.set(Number(id), { segment: p.segment, offset: p.offset, lsn });
    const connector = manifest.connectors[coreConnectorName(Number(id))];
    const sourceOffsets: Record<string, number> = {};
    for (const [k, v] of Object.entries(connector?.offsets ?? {})) sourceOffsets[k] = Number(v);
    target.cores.set(Number(id), {
      sourceOffsets,
      watermark:
        connector?.metadata.watermark === undefined ? undefined : Number(connector.metadata.watermark),
      lastSequence: lsn - 1,
    });
  }
  return { positions, target };
}

/**
 * Coordinates checkpoints across per-core logs; see the module comment.
 *
 * Threads: runs in the coordinating thread; its participants may live in worker threads
 * (`localParticipant` for in-thread writers, or an adapter of your own that messages the workers).
 */
export class PerCoreCheckpointCoordinator {
  private busy = false;

  private constructor(
    private readonly options: Required<
      Omit<PerCoreCheckpointOptions, 'transactional' | 'incremental' | 'maxChainLength' | 'maxDeltaRatio'>
    > & {
      transactional: boolean;
      compaction: Pick<CheckpointOptions, 'incremental' | 'maxChainLength' | 'maxDeltaRatio'>;
    },
    private target: PerCoreTarget,
    private positions: Map<number, WalPosition>,
    private epoch: number,
    /** The latest checkpoint: what the next delta applies to. */
    private parent: CheckpointManifest | undefined,
  ) {}

  /**
   * Loads the latest valid checkpoint (base and deltas) as the coordinator's copy. Throws
   * `TIDEMARK_INVALID_ARGUMENT` for a bad compaction option.
   */
  static async open(options: PerCoreCheckpointOptions): Promise<PerCoreCheckpointCoordinator> {
    checkOptionsObject('options', options);
    if (options === undefined) throw invalidArgument('options', options, 'an options object');
    checkCheckpointStoreArgument('options.store', options.store);
    checkDirectoryArgument('options.walRoot', options.walRoot);
    if (!Array.isArray(options.participants))
      throw invalidArgument('options.participants', options.participants, 'an array of participants');
    const { incremental, maxChainLength, maxDeltaRatio } = resolveCheckpointOptions({
      incremental: options.incremental,
      maxChainLength: options.maxChainLength,
      maxDeltaRatio: options.maxDeltaRatio,
    });
    const latest = await loadLatestCheckpoint(options.store);
    const { positions, target } = perCoreProgressOf(latest.checkpoint?.manifest);
    if (latest.checkpoint) target.state = latest.checkpoint.state;
    return new PerCoreCheckpointCoordinator(
      {
        store: options.store,
        walRoot: options.walRoot,
        participants: options.participants,
        transactional: options.transactional ?? false,
        barrierTimeoutMs: options.barrierTimeoutMs ?? 10_000,
        maxRetained: options.maxRetained ?? 2,
        minRetainedBases: options.minRetainedBases ?? DEFAULT_MIN_RETAINED_BASES,
        epoch: options.epoch ?? target.epoch,
        compaction: { incremental, maxChainLength, maxDeltaRatio },
      },
      target,
      positions,
      Math.max(target.epoch, options.epoch ?? 0),
      latest.checkpoint?.manifest,
    );
  }

  /** Epoch of the last checkpoint (or attempt). */
  get currentEpoch(): number {
    return this.epoch;
  }

  /**
   * Takes a checkpoint (see the module comment). `epoch`, when given, must be above every epoch
   * used so far (e.g. one above what recovery found). Rejects `TIDEMARK_TIMEOUT` (a core did not
   * answer: abandoned), `TIDEMARK_IO` / `TIDEMARK_NO_SPACE` (nothing truncated),
   * `TIDEMARK_INVALID_ARGUMENT` (one already running). `options.forceBase` writes a base even
   * when a delta is allowed (compacts the chain now).
   */
  checkpoint(
    epoch = this.epoch + 1,
    options: { forceBase?: boolean } = {},
  ): Promise<PerCoreCheckpointResult> {
    return traceAsync(
      tracing.checkpoint,
      (): CheckpointSpanContext => ({ engine: 'per-core', epoch, kind: 'base' }),
      async (ctx) => {
        const done = await this.checkpointNow(epoch, options.forceBase === true);
        if (ctx) {
          ctx.id = done.id;
          ctx.kind = done.kind;
          ctx.keysWritten = done.keys;
          ctx.bytes = done.stateBytes;
        }
        return done;
      },
    );
  }

  private async checkpointNow(epoch: number, forceBase: boolean): Promise<PerCoreCheckpointResult> {
    if (this.busy)
      throw new TidemarkError('TIDEMARK_INVALID_ARGUMENT', 'a per-core checkpoint is already running');
    if (!Number.isSafeInteger(epoch) || epoch <= this.epoch)
      throw new TidemarkError('TIDEMARK_INVALID_ARGUMENT', `epoch ${epoch} is not above ${this.epoch}`);
    this.busy = true;
    const t0 = performance.now();
    const { store, walRoot, participants, barrierTimeoutMs } = this.options;
    try {
      this.epoch = epoch;
      const id = await store.nextId();
      emit('begin', id, epoch);
      const synced = await Promise.all(
        participants.map((p) => withTimeout(p.barrier(epoch), barrierTimeoutMs, `core ${p.coreId}`)),
      );
      emit('barriers-durable', id, epoch);

      // Replay onto a copy of the copy: a failed checkpoint leaves the coordinator as it was.
      const target: PerCoreTarget = {
        state: copyStateBackend(this.target.state),
        epoch: this.target.epoch,
        cores: new Map(
          [...this.target.cores].map(([c, p]) => [c, { ...p, sourceOffsets: { ...p.sourceOffsets } }]),
        ),
      };
      // Every key this replay touches: the replay runs from the parent's positions, so this is
      // exactly what changed since the parent — a delta's contents.
      const changed = new Map<string, Uint8Array | undefined>();
      const replayer = new PerCoreReplayer(target, this.options.transactional, changed);
      const perCore = [];
      for (let i = 0; i < participants.length; i++) {
        const coreId = participants[i]!.coreId;
        const until = synced[i]!;
        const { entries } = await PerCoreWalReader.read(walRoot, coreId, {
          from: this.positions.get(coreId),
          untilSequence: until.lsn - 1,
        });
        perCore.push(entries);
      }
      const merged = mergeSegments(perCore);
      for (const e of merged) replayer.apply(e);
      // Transactional: mutations after a core's last Commit are not in the state; the
      // checkpoint covers that core only up to its last Commit.
      const positions: Record<string, WalPosition> = {};
      for (let i = 0; i < participants.length; i++) positions[participants[i]!.coreId] = synced[i]!;
      if (this.options.transactional && replayer.pendingCount > 0) {
        throw new TidemarkError(
          'TIDEMARK_INVALID_ARGUMENT',
          'a core has mutations after its last Commit at the barrier: in transactional mode commit before the epoch barrier',
        );
      }
      emit('replayed', id, epoch);

      const state = target.state;
      const connectors: Record<string, ConnectorCheckpoint> = {};
      for (const [coreId, p] of target.cores) {
        connectors[coreConnectorName(coreId)] = {
          offsets: Object.fromEntries(Object.entries(p.sourceOffsets).map(([k, v]) => [k, String(v)])),
          epoch,
          metadata: p.watermark === undefined ? {} : { watermark: String(p.watermark) },
        };
      }
      const parent = this.parent;
      const kind = chooseCheckpointKind({
        parent,
        options: this.options.compaction,
        changedKeys: changed.size,
        stateKeys: state.size,
        forceBase,
      });
      const manifest = await store.save(
        perCoreCheckpointDraft({ id, epoch, kind, parent, state, changed, positions, connectors }),
      );
      target.epoch = epoch;
      this.target = target;
      this.parent = manifest;
      this.positions = new Map(Object.entries(positions).map(([c, p]) => [Number(c), p]));
      emit('published', id, epoch);

      // Every core's marker durable before any core loses a segment: a kill in between leaves
      // every log whole, and after truncation each log still holds an entry of this epoch.
      await Promise.all(
        participants.map((p) =>
          withTimeout(
            p.markCheckpoint({ checkpointId: id, position: positions[p.coreId]! }),
            barrierTimeoutMs,
            `core ${p.coreId} (checkpoint marker)`,
          ),
        ),
      );
      emit('markers-durable', id, epoch);

      const pruned = await pruneCheckpoints(store, {
        maxRetained: this.options.maxRetained,
        minRetainedBases: this.options.minRetainedBases,
      });
      // Best effort: what fenced writers published after a takeover (never visible) goes too.
      if (store instanceof ObjectStoreCheckpointStore)
        await collectFencedObjects(store.storage, { perCore: true }).catch(() => {});
      emit('pruned', id, epoch);
      let segmentsTruncated = 0;
      for (const p of participants) {
        // Below what every retained checkpoint covers of this core.
        let keep: WalPosition | undefined = positions[p.coreId];
        for (const m of pruned.retained) {
          const r = perCoreProgressOf(m).positions.get(p.coreId);
          if (r === undefined) keep = undefined;
          else if (keep !== undefined && r.lsn < keep.lsn) keep = r;
          if (keep === undefined) break;
        }
        if (keep) segmentsTruncated += await p.truncateBefore(keep);
      }
      emit('truncated', id, epoch);
      return {
        id,
        epoch,
        positions,
        keys: state.size,
        kind: manifest.kind,
        chainLength: manifest.chainLength,
        keysWritten: manifest.state.entriesWritten,
        tombstones: manifest.state.tombstones,
        entriesReplayed: merged.length,
        stateBytes: manifest.sizeBytes,
        segmentsTruncated,
        durationMs: performance.now() - t0,
      };
    } finally {
      this.busy = false;
    }
  }
}
