/**
 * `CheckpointConfig` (seed: `CheckpointConfig::new(dir).with_wal_path(..).with_interval(..)
 * .with_max_retained(..)`): where checkpoints go and when a checkpoint is a base or a delta.
 * Immutable: every `with*` returns a new config.
 */
import { TidemarkError } from '../errors.js';
import type { CompressionSpec } from '../io/codecs.js';
import { checkPath } from '../validation.js';
import { resolveLocalCompression } from './local-compression.js';

/** The tunables of incremental checkpointing (plain data: it crosses to the Ring 1 worker). */
export interface CheckpointOptions {
  /** Write deltas (keys changed since the parent) when allowed. False: every checkpoint is a base. Default true. */
  incremental: boolean;
  /** Recoverable checkpoints kept (with every checkpoint their chains need); the WAL is kept back to the oldest. Default 2. */
  maxRetained: number;
  /**
   * Distinct bases kept at least: beyond `maxRetained`, the newest checkpoint of each older chain
   * is kept (and the WAL back to it) until this many bases are, so one damaged base falls back to
   * an older checkpoint plus WAL instead of `TIDEMARK_DATA_LOSS`. Default 2; 1 keeps only what
   * `maxRetained` needs.
   */
  minRetainedBases: number;
  /** Compaction threshold: after this many deltas on one base, the next checkpoint is a base. Default 8. */
  maxChainLength: number;
  /**
   * Compaction threshold: once the delta files since the base add up to more than this fraction of
   * the base file's size, the next checkpoint is a base. Default 0.5.
   */
  maxDeltaRatio: number;
  /** Checkpoint on a timer this often, ms (0 = only when asked); both engines honour it. Default 0. */
  intervalMs: number;
  /**
   * Checkpoint early once this many bytes were appended to the WAL since the last checkpoint
   * (0 = never). Default 0. This is the replay bound: both engines check it every 10 ms (the
   * `RecoveryManager.open()` store and Ring 1, see auto-checkpoint.ts), so a crash replays at most
   * about this many bytes plus what was written during one tick and during the checkpoint it
   * started; `stats()` reports `walBytesSinceCheckpoint` and `estimatedReplayMs`.
   */
  walSizeThresholdBytes: number;
  /** Operator state up to this size is kept inline in the manifest (base64); larger goes to the sidecar. Default 64 KiB. */
  inlineOperatorStateBytes: number;
  /**
   * When recovery replays at least this many WAL records after its checkpoint, opening the
   * pipeline (`openChangelogAwareStore`) checkpoints the recovered state before it returns, so
   * the next recovery replays only what was written since — a process killed over and over
   * before its own checkpoints complete still recovers in bounded time (0 = never). Default 10,000.
   */
  recoveryCheckpointRecords: number;
  /**
   * Codec of local checkpoint files (`checkpoints/checkpoint-N/state.base`, …): `'zstd'`, `'lz4'`,
   * `'brotli'`, `'deflate'` or `{ codec, level }`; `'none'` or `false` writes plain files. Default
   * `'none'`. Compressed files are checked frames whose manifest entries record the codec and
   * uncompressed size; they are held whole in memory while written and read (plain files stream).
   * Checkpoints in an object store follow `objectStore.compression` instead. Reading never
   * depends on it (each file's manifest entry says how it was written).
   */
  compression: CompressionSpec | false;
}

/** The defaults of {@link CheckpointOptions}. */
export const DEFAULT_CHECKPOINT_OPTIONS: Readonly<CheckpointOptions> = Object.freeze({
  incremental: true,
  maxRetained: 2,
  minRetainedBases: 2,
  maxChainLength: 8,
  maxDeltaRatio: 0.5,
  intervalMs: 0,
  walSizeThresholdBytes: 0,
  inlineOperatorStateBytes: 64 * 1024,
  recoveryCheckpointRecords: 10_000,
  compression: 'none',
});

function invalid(name: string, value: unknown, rule: string): TidemarkError {
  return new TidemarkError(
    'TIDEMARK_INVALID_ARGUMENT',
    `checkpoint option ${name} must be ${rule}, got ${String(value)}`,
  );
}

/** Fills in defaults and checks every option. Throws `TIDEMARK_INVALID_ARGUMENT`. */
export function resolveCheckpointOptions(partial: Partial<CheckpointOptions> = {}): CheckpointOptions {
  const o: CheckpointOptions = { ...DEFAULT_CHECKPOINT_OPTIONS };
  for (const [k, v] of Object.entries(partial))
    if (v !== undefined) (o as unknown as Record<string, unknown>)[k] = v;
  if (typeof o.incremental !== 'boolean') throw invalid('incremental', o.incremental, 'a boolean');
  const ints: [keyof CheckpointOptions, number][] = [
    ['maxRetained', 1],
    ['minRetainedBases', 1],
    ['maxChainLength', 1],
    ['intervalMs', 0],
    ['walSizeThresholdBytes', 0],
    ['inlineOperatorStateBytes', 0],
    ['recoveryCheckpointRecords', 0],
  ];
  for (const [name, min] of ints) {
    const v = o[name];
    if (!Number.isSafeInteger(v) || (v as number) < min) throw invalid(name, v, `an integer ≥ ${min}`);
  }
  if (typeof o.maxDeltaRatio !== 'number' || !(o.maxDeltaRatio > 0))
    throw invalid('maxDeltaRatio', o.maxDeltaRatio, 'a number > 0');
  resolveLocalCompression('checkpoint.compression', o.compression);
  return o;
}

/**
 * Configuration of an {@link IncrementalCheckpointManager} on a local directory.
 *
 * Threads: a builder of plain values: use it in one thread; what it builds is plain data any
 * thread may copy.
 */
export class CheckpointConfig {
  /** The checkpoint options, every default filled in. */
  readonly options: CheckpointOptions;

  /**
   * @param checkpointDir directory of the checkpoints (created when missing).
   * @param walDir directory of the WAL segments the checkpoints cover.
   */
  constructor(
    readonly checkpointDir: string,
    readonly walDir?: string,
    options: Partial<CheckpointOptions> = {},
  ) {
    checkPath('checkpointDir', checkpointDir);
    if (walDir !== undefined) checkPath('walDir', walDir);
    this.options = resolveCheckpointOptions(options);
  }

  private with(patch: Partial<CheckpointOptions>): CheckpointConfig {
    return new CheckpointConfig(this.checkpointDir, this.walDir, { ...this.options, ...patch });
  }

  /** The WAL directory. */
  withWalPath(walDir: string): CheckpointConfig {
    return new CheckpointConfig(this.checkpointDir, walDir, this.options);
  }
  /** See {@link CheckpointOptions.intervalMs}. */
  withIntervalMs(intervalMs: number): CheckpointConfig {
    return this.with({ intervalMs });
  }
  /** See {@link CheckpointOptions.maxRetained}. */
  withMaxRetained(maxRetained: number): CheckpointConfig {
    return this.with({ maxRetained });
  }
  /** See {@link CheckpointOptions.minRetainedBases}. */
  withMinRetainedBases(minRetainedBases: number): CheckpointConfig {
    return this.with({ minRetainedBases });
  }
  /** See {@link CheckpointOptions.incremental}. */
  withIncremental(incremental: boolean): CheckpointConfig {
    return this.with({ incremental });
  }
  /** See {@link CheckpointOptions.maxChainLength}. */
  withMaxChainLength(maxChainLength: number): CheckpointConfig {
    return this.with({ maxChainLength });
  }
  /** See {@link CheckpointOptions.maxDeltaRatio}. */
  withMaxDeltaRatio(maxDeltaRatio: number): CheckpointConfig {
    return this.with({ maxDeltaRatio });
  }
  /** See {@link CheckpointOptions.walSizeThresholdBytes}. */
  withWalSizeThresholdBytes(walSizeThresholdBytes: number): CheckpointConfig {
    return this.with({ walSizeThresholdBytes });
  }
  /** See {@link CheckpointOptions.inlineOperatorStateBytes}. */
  withInlineOperatorStateBytes(inlineOperatorStateBytes: number): CheckpointConfig {
    return this.with({ inlineOperatorStateBytes });
  }
  /** See {@link CheckpointOptions.compression}. */
  withCompression(compression: CompressionSpec | false): CheckpointConfig {
    return this.with({ compression });
  }
  /** See {@link CheckpointOptions.recoveryCheckpointRecords}. */
  withRecoveryCheckpointRecords(recoveryCheckpointRecords: number): CheckpointConfig {
    return this.with({ recoveryCheckpointRecords });
  }
}
