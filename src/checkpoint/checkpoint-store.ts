/**
 * `CheckpointStore` (the seeds' `checkpoint_store`) and `FileSystemCheckpointStore`: where
 * checkpoints live and how they are published atomically.
 *
 * Publish order inside the store: state file (atomic write) → manifest (atomic write; the commit
 * point, since it names the state file's size and checksum) → `latest` pointer (atomic write).
 * Loading trusts nothing: it walks manifests newest first and takes the first whose manifest and
 * state file both verify, so a missing, stale or corrupt pointer only costs a listing.
 */
import { corruption, isTidemarkError, TidemarkError } from '../errors.js';
import { MAX_MANIFEST_BYTES, MAX_STATE_FILE_BYTES } from '../format/constants.js';
import { crc32c } from '../format/crc32c.js';
import type { Directory } from '../io/directory.js';
import { TEMP_SUFFIX } from '../io/fs-directory.js';
import type { ReplayTarget } from '../state/apply-entry.js';
import { type CheckpointManifest, decodeManifest, encodeManifest } from './checkpoint-manifest.js';
import { decodeStateFile } from './state-file.js';

/** Name of the pointer file naming the newest checkpoint. */
export const LATEST_POINTER_NAME = 'latest';
const PREFIX = 'checkpoint-';
const ID_DIGITS = 16;

/** `checkpoint-0000000000000007` */
export function checkpointBaseName(id: number): string {
  return `${PREFIX}${String(id).padStart(ID_DIGITS, '0')}`;
}
const MANIFEST_RE = new RegExp(`^${PREFIX}(\\d{${ID_DIGITS}})\\.manifest\\.json$`);
const STATE_RE = new RegExp(`^${PREFIX}(\\d{${ID_DIGITS}})\\.state$`);

/** A checkpoint that verified, with its decoded state. */
export interface LoadedCheckpoint {
  manifest: CheckpointManifest;
  state: Map<string, Uint8Array>;
}

/**
 * The state a replay starts from: `checkpoint`'s contents and position, or an empty state at
 * LSN 0 when there is none. Used by recovery and by Ring 1's checkpointer alike.
 */
export function replayStartOf(checkpoint: LoadedCheckpoint | undefined): ReplayTarget & { lsn: number } {
  const lsn = checkpoint?.manifest.walPosition.lsn ?? 0;
  return {
    state: checkpoint?.state ?? new Map<string, Uint8Array>(),
    lsn,
    epoch: checkpoint?.manifest.epoch ?? 0,
    sourceOffsets: { ...(checkpoint?.manifest.sourceOffsets ?? {}) },
    watermark: checkpoint?.manifest.watermark ?? undefined,
    lastCommitLsn: lsn,
  };
}

/** A checkpoint passed over while loading, and why. */
export interface SkippedCheckpoint {
  id: number;
  code: string;
  reason: string;
}

/** Result of {@link CheckpointStore.loadLatest}. */
export interface LatestCheckpoint {
  /** The newest checkpoint that verified, or undefined when none did (or none exist). */
  checkpoint: LoadedCheckpoint | undefined;
  /** Newer checkpoints that failed verification. */
  skipped: SkippedCheckpoint[];
  /** What the `latest` pointer said: `ok`, or why it was not used. */
  pointer: 'ok' | 'missing' | 'stale' | 'corrupt';
}

/** Where checkpoints are kept. Every store passes the same conformance tests. */
export interface CheckpointStore {
  /** Ids of checkpoints with a manifest present (valid or not), ascending. */
  list(): Promise<number[]>;
  /** Id the next checkpoint should use (one above every id present). */
  nextId(): Promise<number>;
  /** Publishes a checkpoint durably and atomically; `manifest.stateFile` is filled in by the store. */
  save(
    manifest: Omit<CheckpointManifest, 'stateFile'>,
    entries: number,
    stateBytes: Uint8Array,
  ): Promise<CheckpointManifest>;
  /** Loads and verifies one checkpoint; throws `TIDEMARK_CORRUPTION` / `TIDEMARK_NOT_FOUND`. */
  load(id: number): Promise<LoadedCheckpoint>;
  /** The newest checkpoint that verifies, falling back past broken ones. */
  loadLatest(): Promise<LatestCheckpoint>;
  /** Keeps the newest `maxRetained` checkpoints that verify, deletes the rest; returns the kept manifests, newest first. */
  prune(maxRetained: number): Promise<CheckpointManifest[]>;
}

/** A {@link CheckpointStore} in a {@link Directory} (a local folder, or memory). */
export class FileSystemCheckpointStore implements CheckpointStore {
  constructor(readonly dir: Directory) {}

  async list(): Promise<number[]> {
    const ids: number[] = [];
    for (const name of await this.dir.list()) {
      const m = MANIFEST_RE.exec(name);
      if (m) ids.push(Number(m[1]));
    }
    return ids.sort((a, b) => a - b);
  }

  async nextId(): Promise<number> {
    let max = 0;
    for (const name of await this.dir.list()) {
      const m = MANIFEST_RE.exec(name) ?? STATE_RE.exec(name);
      if (m) max = Math.max(max, Number(m[1]));
    }
    return max + 1;
  }

  async save(
    partial: Omit<CheckpointManifest, 'stateFile'>,
    entries: number,
    stateBytes: Uint8Array,
  ): Promise<CheckpointManifest> {
    const base = checkpointBaseName(partial.id);
    const stateName = `${base}.state`;
    if (await this.dir.exists(`${base}.manifest.json`)) {
      throw new TidemarkError(
        'TIDEMARK_INVALID_ARGUMENT',
        `checkpoint ${partial.id} already exists in ${this.dir.path}`,
      );
    }
    await this.dir.writeFileAtomic(stateName, stateBytes);
    const manifest: CheckpointManifest = {
      ...partial,
      stateFile: { name: stateName, sizeBytes: stateBytes.length, crc32c: crc32c(stateBytes), entries },
    };
    await this.dir.writeFileAtomic(`${base}.manifest.json`, encodeManifest(manifest));
    await this.dir.writeFileAtomic(LATEST_POINTER_NAME, Buffer.from(`${base}\n`));
    return manifest;
  }

  private async loadManifest(id: number): Promise<CheckpointManifest> {
    const name = `${checkpointBaseName(id)}.manifest.json`;
    const bytes = await this.dir.readFile(name, MAX_MANIFEST_BYTES);
    const manifest = decodeManifest(bytes, `${this.dir.path}/${name}`);
    if (manifest.id !== id)
      throw corruption(`${this.dir.path}/${name}`, 0, `manifest says id ${manifest.id}`);
    return manifest;
  }

  async load(id: number): Promise<LoadedCheckpoint> {
    const manifest = await this.loadManifest(id);
    const sf = manifest.stateFile;
    const path = `${this.dir.path}/${sf.name}`;
    if (sf.name !== `${checkpointBaseName(id)}.state`)
      throw corruption(path, 0, 'manifest names a foreign state file');
    const bytes = await this.dir.readFile(sf.name, Math.min(MAX_STATE_FILE_BYTES, sf.sizeBytes));
    if (bytes.length !== sf.sizeBytes)
      throw corruption(
        path,
        bytes.length,
        `state file is ${bytes.length} bytes, manifest says ${sf.sizeBytes}`,
      );
    if (crc32c(bytes) !== sf.crc32c)
      throw corruption(path, 0, 'state file checksum differs from the manifest');
    const state = decodeStateFile(bytes, path);
    if (state.size !== sf.entries)
      throw corruption(path, 0, `state file has ${state.size} entries, manifest says ${sf.entries}`);
    return { manifest, state };
  }

  async loadLatest(): Promise<LatestCheckpoint> {
    const ids = await this.list();
    const skipped: SkippedCheckpoint[] = [];
    let pointerId: number | undefined;
    let pointer: LatestCheckpoint['pointer'] = 'ok';
    try {
      const text = Buffer.from(await this.dir.readFile(LATEST_POINTER_NAME, 256)).toString('utf8');
      const m = new RegExp(`^${PREFIX}(\\d{${ID_DIGITS}})\\n$`).exec(text);
      if (m) pointerId = Number(m[1]);
      else pointer = 'corrupt';
    } catch (err) {
      if (!isTidemarkError(err, 'TIDEMARK_NOT_FOUND')) throw err;
      pointer = 'missing';
    }
    for (let i = ids.length - 1; i >= 0; i--) {
      const id = ids[i]!;
      try {
        const checkpoint = await this.load(id);
        if (pointer === 'ok' && pointerId !== id) pointer = 'stale';
        return { checkpoint, skipped, pointer };
      } catch (err) {
        if (!isTidemarkError(err) || err.code === 'TIDEMARK_IO') throw err;
        skipped.push({ id, code: err.code, reason: err.message });
      }
    }
    if (pointer === 'ok' && pointerId !== undefined) pointer = 'stale';
    return { checkpoint: undefined, skipped, pointer };
  }

  async prune(maxRetained: number): Promise<CheckpointManifest[]> {
    if (!Number.isInteger(maxRetained) || maxRetained < 1) {
      throw new TidemarkError('TIDEMARK_INVALID_ARGUMENT', `maxRetained must be ≥ 1, got ${maxRetained}`);
    }
    const ids = await this.list();
    const kept: CheckpointManifest[] = [];
    const doomed: string[] = [];
    for (let i = ids.length - 1; i >= 0; i--) {
      const id = ids[i]!;
      const base = checkpointBaseName(id);
      if (kept.length < maxRetained) {
        try {
          kept.push((await this.load(id)).manifest);
          continue;
        } catch (err) {
          if (!isTidemarkError(err) || err.code === 'TIDEMARK_IO') throw err;
        }
      }
      doomed.push(`${base}.manifest.json`, `${base}.state`);
    }
    // Orphans: state files without a manifest below the newest manifest, and temporary files.
    const newest = ids[ids.length - 1] ?? 0;
    for (const name of await this.dir.list()) {
      const m = STATE_RE.exec(name);
      if (m && Number(m[1]) < newest && !ids.includes(Number(m[1]))) doomed.push(name);
      if (name.endsWith(TEMP_SUFFIX)) doomed.push(name);
    }
    // Delete manifests first: a state file without a manifest is an orphan, never a checkpoint.
    doomed.sort((a, b) => Number(b.endsWith('.json')) - Number(a.endsWith('.json')));
    await this.dir.remove(doomed);
    return kept;
  }
}
