/**
 * Checkpoint chains over any {@link CheckpointStore}: a delta is applied to its parent, back to a
 * base. Loading materializes a chain (base, then each delta in order), checking every manifest,
 * every link and every file; validation reports what is wrong instead of throwing; retention
 * keeps whole chains.
 */
import { throwIfAborted } from '../abort-steps.js';
import { isTidemarkError, TidemarkError, type TidemarkErrorCode } from '../errors.js';
import type { CheckpointManifest } from '../format/checkpoint-manifest.js';
import { UNCOUNTED_KEYS } from '../format/constants.js';
import { crc32c } from '../format/crc32c.js';
import { applyStateFile, scanStateFile } from '../format/state-file.js';
import type { ReplayTarget } from '../state/apply-entry.js';
import { createStateBackend, type StateBackend, type StateBackendKind } from '../state/state-backend.js';
import { checkCheckpointStoreArgument } from '../validation.js';
import { type CheckpointStore, checkpointFilePath } from './checkpoint-store.js';

/** Longest chain followed (a loop or a runaway chain is corruption, not a hang). */
export const MAX_CHAIN_LENGTH = 10_000;

/** A checkpoint that verified, with its materialized state. */
export interface LoadedCheckpoint {
  /** The checkpoint's manifest. */
  manifest: CheckpointManifest;
  /** The key/value state: the base with every delta of the chain applied. */
  state: StateBackend;
  /** Operator state by name (inline or from the sidecar), checked against its CRC32C. */
  operators: Map<string, Uint8Array>;
  /** Ids from the base to this checkpoint. */
  chain: number[];
  /** Bytes of data files read. */
  bytesRead: number;
}

/** Options of {@link loadCheckpoint} and {@link loadLatestCheckpoint}. */
export interface LoadCheckpointOptions {
  /** What the loaded state is held in (default `'slab'`; see `StateBackendKind`). */
  stateBackend?: StateBackendKind | undefined;
}

/** A checkpoint passed over while loading, and why. */
export interface SkippedCheckpoint {
  /** Id of the checkpoint skipped. */
  id: number;
  /** `TidemarkError` code of the failure (e.g. `TIDEMARK_CORRUPTION`). */
  code: string;
  /** The failure's message. */
  reason: string;
}

/** Result of {@link loadLatestCheckpoint}. */
export interface LatestCheckpoint {
  /** The newest checkpoint whose whole chain verified, or undefined when none did (or none exist). */
  checkpoint: LoadedCheckpoint | undefined;
  /** Newer checkpoints that failed verification. */
  skipped: SkippedCheckpoint[];
  /** What the `latest` pointer said: `ok`, or why it was not used. */
  pointer: 'ok' | 'missing' | 'stale' | 'corrupt';
}

function chainError(store: CheckpointStore, m: CheckpointManifest, what: string): TidemarkError {
  const path = checkpointFilePath(store, m.id, 'manifest.json');
  return new TidemarkError('TIDEMARK_CORRUPTION', `${path}: ${what}`, { path, offset: 0 });
}

/** Checks that `parent` is the checkpoint `child` says it applies to. */
function checkLink(store: CheckpointStore, child: CheckpointManifest, parent: CheckpointManifest): void {
  if (parent.id !== child.parentId)
    throw chainError(store, child, `parent ${child.parentId} is checkpoint ${parent.id}`);
  if (parent.baseId !== child.baseId)
    throw chainError(store, child, `base ${child.baseId}, but the parent's base is ${parent.baseId}`);
  if (parent.chainLength + 1 !== child.chainLength)
    throw chainError(
      store,
      child,
      `chain length ${child.chainLength} after a parent at ${parent.chainLength}`,
    );
  if (parent.walPosition.lsn > child.walPosition.lsn || parent.epoch > child.epoch)
    throw chainError(store, child, 'parent is newer than its child (LSN or epoch)');
}

/**
 * The manifests from the base to `id`, each link checked. Throws `TIDEMARK_CORRUPTION` / `TIDEMARK_NOT_FOUND`.
 * `cache` (manifests by id, filled as they are read) lets a caller walking several chains that
 * share checkpoints read each manifest once: committed manifests never change.
 */
export async function loadChainManifests(
  store: CheckpointStore,
  id: number,
  cache?: Map<number, CheckpointManifest>,
): Promise<CheckpointManifest[]> {
  const load = async (n: number): Promise<CheckpointManifest> => {
    const known = cache?.get(n);
    if (known !== undefined) return known;
    const m = await store.loadManifest(n);
    cache?.set(n, m);
    return m;
  };
  const chain = [await load(id)];
  while (chain[0]!.kind === 'delta') {
    const child = chain[0]!;
    if (chain.length > MAX_CHAIN_LENGTH)
      throw chainError(store, child, `chain longer than ${MAX_CHAIN_LENGTH}`);
    let parent: CheckpointManifest;
    try {
      parent = await load(child.parentId!);
    } catch (err) {
      if (isTidemarkError(err, 'TIDEMARK_NOT_FOUND'))
        throw chainError(store, child, `parent checkpoint ${child.parentId} is missing`);
      throw err;
    }
    checkLink(store, child, parent);
    chain.unshift(parent);
  }
  return chain;
}

/** Checks a state file against its manifest and applies it to `state` (or only checks, without `state`). */
async function applyCheckpointState(
  store: CheckpointStore,
  m: CheckpointManifest,
  state: StateBackend | undefined,
): Promise<number> {
  const file = m.files.find((f) => f.role === m.kind)!;
  const bytes = await store.readFile(m, file);
  const path = checkpointFilePath(store, m.id, file.name);
  const info =
    state === undefined ? scanStateFile(bytes, path, () => {}) : applyStateFile(bytes, path, state);
  const expectedKind = m.kind === 'base' ? 0 : 1;
  if (info.kind !== expectedKind) throw chainError(store, m, `${file.name} is not a ${m.kind}`);
  if (info.entries !== m.state.entriesWritten || info.tombstones !== m.state.tombstones)
    throw chainError(
      store,
      m,
      `${file.name} holds ${info.entries} entries (${info.tombstones} tombstones), the manifest says ${m.state.entriesWritten} (${m.state.tombstones})`,
    );
  if (state !== undefined && m.state.keys !== UNCOUNTED_KEYS && state.size !== m.state.keys)
    throw chainError(store, m, `the chain gives ${state.size} keys, the manifest says ${m.state.keys}`);
  return bytes.length;
}

/** Decodes and checks the operator states of `m`. */
export async function loadOperators(
  store: CheckpointStore,
  m: CheckpointManifest,
): Promise<{ operators: Map<string, Uint8Array>; bytes: number }> {
  const operators = new Map<string, Uint8Array>();
  const sidecarEntry = m.files.find((f) => f.role === 'operators');
  let sidecar: Uint8Array | undefined;
  for (const [name, op] of Object.entries(m.operators)) {
    let data: Uint8Array;
    if (op.external) {
      if (!sidecarEntry) throw chainError(store, m, `operator ${name} is external but there is no sidecar`);
      sidecar ??= await store.readFile(m, sidecarEntry);
      if (op.externalOffset + op.externalLength > sidecar.length)
        throw chainError(store, m, `operator ${name} lies past the end of the sidecar`);
      data = sidecar.slice(op.externalOffset, op.externalOffset + op.externalLength);
    } else {
      data = new Uint8Array(Buffer.from(op.stateB64!, 'base64'));
    }
    if (crc32c(data) !== op.crc32c) throw chainError(store, m, `operator ${name} state checksum mismatch`);
    operators.set(name, data);
  }
  return { operators, bytes: sidecar?.length ?? 0 };
}

/**
 * Loads checkpoint `id` with its whole chain: every manifest and link, every file's size and
 * checksum, every state file's structure and the key count after each step. Throws
 * `TIDEMARK_CORRUPTION`, `TIDEMARK_NOT_FOUND`, `TIDEMARK_UNSUPPORTED_VERSION`, `TIDEMARK_IO`.
 */
export async function loadCheckpoint(
  store: CheckpointStore,
  id: number,
  options: LoadCheckpointOptions = {},
): Promise<LoadedCheckpoint> {
  const chain = await loadChainManifests(store, id);
  const state = createStateBackend(options.stateBackend);
  let bytesRead = 0;
  for (const m of chain) bytesRead += await applyCheckpointState(store, m, state);
  const manifest = chain[chain.length - 1]!;
  const { operators, bytes } = await loadOperators(store, manifest);
  return { manifest, state, operators, chain: chain.map((m) => m.id), bytesRead: bytesRead + bytes };
}

/**
 * The newest checkpoint whose whole chain loads, falling back past broken ones. I/O errors and
 * `TIDEMARK_UNSUPPORTED_VERSION` (a manifest or state file of a newer version) are thrown.
 */
export async function loadLatestCheckpoint(
  store: CheckpointStore,
  options: LoadCheckpointOptions = {},
): Promise<LatestCheckpoint> {
  checkCheckpointStoreArgument('store', store);
  const ids = await store.list();
  const said = await store.readLatestPointer();
  const skipped: SkippedCheckpoint[] = [];
  let pointer: LatestCheckpoint['pointer'] = typeof said === 'number' ? 'ok' : said;
  for (let i = ids.length - 1; i >= 0; i--) {
    const id = ids[i]!;
    try {
      const checkpoint = await loadCheckpoint(store, id, options);
      if (pointer === 'ok' && said !== id) pointer = 'stale';
      return { checkpoint, skipped, pointer };
    } catch (err) {
      // A newer format, or a codec package this install lacks, is not damage: falling back
      // past it would silently drop what it holds.
      if (
        !isTidemarkError(err) ||
        err.code === 'TIDEMARK_IO' ||
        err.code === 'TIDEMARK_NO_SPACE' ||
        err.code === 'TIDEMARK_UNSUPPORTED_VERSION' ||
        err.code === 'TIDEMARK_MISSING_DEPENDENCY'
      )
        throw err;
      skipped.push({ id, code: err.code, reason: err.message });
    }
  }
  if (pointer === 'ok') pointer = 'stale';
  return { checkpoint: undefined, skipped, pointer };
}

/** One thing wrong with a checkpoint. */
export interface CheckpointProblem {
  /** The checkpoint of the chain where it was found. */
  checkpointId: number;
  /** `TidemarkError` code of the problem (e.g. `TIDEMARK_CORRUPTION`). */
  code: TidemarkErrorCode;
  /** File at fault, when known. */
  path: string | undefined;
  /** Byte offset in it, when known. */
  offset: number | undefined;
  /** What is wrong, in words. */
  message: string;
}

/** Result of {@link validateCheckpointChain}. */
export interface CheckpointValidation {
  /** Id of the checkpoint validated. */
  id: number;
  /** True when the checkpoint and its whole chain verify. */
  valid: boolean;
  /** Ids from the base to this checkpoint, as far as the manifests could be followed. */
  chain: number[];
  /** Everything found wrong; empty when `valid`. */
  problems: CheckpointProblem[];
  /** Bytes of data files read and checked. */
  bytesChecked: number;
}

function problemOf(checkpointId: number, err: unknown): CheckpointProblem {
  if (isTidemarkError(err)) {
    return { checkpointId, code: err.code, path: err.path, offset: err.offset, message: err.message };
  }
  throw err;
}

/**
 * Validates checkpoint `id` and its chain back to the base (the seed's `validate_checkpoint`):
 * manifests, links, every file's size and checksum, state file structure, entry and key counts,
 * operator state. Collects every problem it can reach instead of stopping at the first;
 * `TIDEMARK_IO` is thrown, not reported. `options.signal` stops it before the next checkpoint's
 * files are read (`TIDEMARK_ABORTED`).
 */
export async function validateCheckpointChain(
  store: CheckpointStore,
  id: number,
  options: { signal?: AbortSignal | undefined } = {},
): Promise<CheckpointValidation> {
  const result: CheckpointValidation = { id, valid: false, chain: [], problems: [], bytesChecked: 0 };
  const record = (checkpointId: number, err: unknown) => {
    if (isTidemarkError(err, 'TIDEMARK_IO')) throw err;
    result.problems.push(problemOf(checkpointId, err));
  };
  // Follow the manifests as far as they go, recording each broken link.
  const chain: CheckpointManifest[] = [];
  let nextId: number | null = id;
  while (nextId !== null && chain.length <= MAX_CHAIN_LENGTH) {
    let m: CheckpointManifest;
    try {
      m = await store.loadManifest(nextId);
    } catch (err) {
      record(nextId, err);
      break;
    }
    if (chain.length > 0) {
      try {
        checkLink(store, chain[0]!, m);
      } catch (err) {
        record(chain[0]!.id, err);
      }
    }
    chain.unshift(m);
    nextId = m.parentId;
  }
  result.chain = chain.map((m) => m.id);
  // Check every file of every checkpoint reached; materialize only when the chain is whole.
  const whole = result.problems.length === 0 && chain[0]?.kind === 'base';
  const state = whole ? createStateBackend() : undefined;
  for (const m of chain) {
    throwIfAborted(`validating checkpoint ${id}`, options.signal);
    try {
      result.bytesChecked += await applyCheckpointState(store, m, state);
    } catch (err) {
      record(m.id, err);
    }
  }
  const target = chain[chain.length - 1];
  if (target?.id === id) {
    try {
      result.bytesChecked += (await loadOperators(store, target)).bytes;
    } catch (err) {
      record(id, err);
    }
  }
  result.valid = result.problems.length === 0;
  return result;
}

/** What retention keeps (see {@link planRetention}). */
export interface RetentionPolicy {
  /** Recoverable checkpoints kept, newest first, with every checkpoint their chains need. ≥ 1. */
  maxRetained: number;
  /**
   * Distinct bases kept at least (a checkpoint of each older chain is retained until this many
   * bases are), so one damaged base falls back to an older chain plus WAL. ≥ 1. Default 2.
   */
  minRetainedBases?: number;
}

/** Default of {@link RetentionPolicy.minRetainedBases}. */
export const DEFAULT_MIN_RETAINED_BASES = 2;

/**
 * What retention keeps: the newest `maxRetained` checkpoints whose manifests form a whole chain,
 * then older ones until `minRetainedBases` distinct bases are among the chains kept (so one
 * damaged file never leaves recovery without a fallback), plus every checkpoint those chains
 * need. Everything else is deleted. A number is `{ maxRetained }`. Only manifests are read
 * (cheap); a data file damaged since it was written is found by loading or validating. Throws
 * `TIDEMARK_INVALID_ARGUMENT` for a bad policy.
 *
 * `manifests`: manifests already read, by id, kept across calls by a publisher; the call adds
 * what it reads and drops the ids no longer listed. Default: a fresh map.
 */
export async function planRetention(
  store: CheckpointStore,
  policy: number | RetentionPolicy,
  manifests: Map<number, CheckpointManifest> = new Map(),
): Promise<{
  /** Manifests of the chain heads kept, newest first. */
  retained: CheckpointManifest[];
  /** Ids of every checkpoint kept (the retained heads and every checkpoint their chains need). */
  keep: Set<number>;
  /** Ids of the checkpoints to delete. */
  remove: number[];
}> {
  const { maxRetained, minRetainedBases = DEFAULT_MIN_RETAINED_BASES } =
    typeof policy === 'number' ? { maxRetained: policy } : policy;
  if (!Number.isInteger(maxRetained) || maxRetained < 1)
    throw new TidemarkError('TIDEMARK_INVALID_ARGUMENT', `maxRetained must be ≥ 1, got ${maxRetained}`);
  if (!Number.isInteger(minRetainedBases) || minRetainedBases < 1)
    throw new TidemarkError(
      'TIDEMARK_INVALID_ARGUMENT',
      `minRetainedBases must be ≥ 1, got ${minRetainedBases}`,
    );
  const ids = await store.list();
  // What is no longer listed leaves the cache: a chain is never completed from memory.
  const listed = new Set(ids);
  for (const id of manifests.keys()) if (!listed.has(id)) manifests.delete(id);
  const retained: CheckpointManifest[] = [];
  const keep = new Set<number>();
  const bases = new Set<number>();
  // Every head's chain is walked back to its base: without a cache a chain of k deltas costs
  // k(k+1)/2 manifest reads, paid by every checkpoint's retention step. A caller that publishes
  // checkpoints passes one cache for all its steps (a manifest never changes once committed, and
  // ids are never reused), so a step reads only what it has not seen.
  for (
    let i = ids.length - 1;
    i >= 0 && (retained.length < maxRetained || bases.size < minRetainedBases);
    i--
  ) {
    let chain: CheckpointManifest[];
    try {
      chain = await loadChainManifests(store, ids[i]!, manifests);
    } catch (err) {
      if (!isTidemarkError(err) || err.code === 'TIDEMARK_IO') throw err;
      continue;
    }
    const head = chain[chain.length - 1]!;
    // Past maxRetained, only a checkpoint of a base not kept yet adds a fallback.
    if (retained.length >= maxRetained && bases.has(head.baseId)) continue;
    retained.push(head);
    bases.add(head.baseId);
    for (const m of chain) keep.add(m.id);
  }
  return { retained, keep, remove: ids.filter((id) => !keep.has(id)) };
}

/** Applies {@link planRetention}: deletes what is not kept; returns the retained manifests, newest first. */
export async function pruneCheckpoints(
  store: CheckpointStore,
  policy: number | RetentionPolicy,
  manifests?: Map<number, CheckpointManifest>,
): Promise<{
  /** Manifests of the chain heads kept, newest first. */
  retained: CheckpointManifest[];
  /** Ids of the checkpoints deleted. */
  removed: number[];
}> {
  const plan = await planRetention(store, policy, manifests);
  for (const id of plan.remove) manifests?.delete(id);
  await store.remove(plan.remove);
  return { retained: plan.retained, removed: plan.remove };
}

/**
 * The state a replay starts from: `checkpoint`'s contents and position, or an empty state at
 * LSN 0 when there is none (held in `options.stateBackend`, default `'slab'`). Used by recovery
 * and by the checkpoint manager alike.
 */
export function replayStartOf(
  checkpoint: LoadedCheckpoint | undefined,
  options: LoadCheckpointOptions = {},
): ReplayTarget & {
  /** LSN the checkpoint covers (0 without one): replay applies the records after it. */
  lsn: number;
} {
  const lsn = checkpoint?.manifest.walPosition.lsn ?? 0;
  return {
    state: checkpoint?.state ?? createStateBackend(options.stateBackend),
    lsn,
    epoch: checkpoint?.manifest.epoch ?? 0,
    sourceOffsets: { ...(checkpoint?.manifest.sourceOffsets ?? {}) },
    watermark: checkpoint?.manifest.watermark ?? undefined,
    lastCommitLsn: lsn,
  };
}
