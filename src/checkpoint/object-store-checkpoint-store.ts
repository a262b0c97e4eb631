/**
 * `ObjectStoreCheckpointStore` (the seeds' `ObjectStoreCheckpointer`): checkpoints in an
 * S3-compatible object store, so machines share them and a new machine can take over.
 *
 * Layout under the store's prefix (docs/FORMAT.md, "Object store layout"):
 *
 *     checkpoints/checkpoint-<16 digits>/<attemptId>/state.base | state.delta | operators.bin
 *     checkpoints/checkpoint-<16 digits>/manifest.json
 *
 * Publish order: every data object is uploaded under a fresh attempt id (objects are immutable;
 * each carries Content-MD5 on the way up and its CRC32C in the manifest) → `manifest.json` is
 * created with `If-None-Match: *` — the commit point: of two writers racing for one id exactly one
 * commits, and since each wrote its data under its own attempt id, the loser cannot have damaged
 * the winner's objects. Data objects without a committed manifest naming their attempt are
 * orphans, removed by `cleanupOrphans()`.
 *
 * No `latest` pointer object: the newest checkpoint is the highest id with a manifest in a
 * listing (SlateDB finds its newest manifest the same way). S3 and radosgw list with
 * read-after-write consistency, recovery lists the checkpoints anyway, and a pointer would be one
 * more PUT per checkpoint that can only be stale: a small checkpoint costs one data PUT (its
 * files packed by the CheckpointBatcher) and the manifest's. A `checkpoints/latest` object left
 * by an earlier version is ignored.
 */
import { randomUUID } from 'node:crypto';
import { corruption, isTidemarkError, TidemarkError } from '../errors.js';
import type { CheckpointFileEntry, CheckpointManifest } from '../format/checkpoint-manifest.js';
import { encodeManifest } from '../format/checkpoint-manifest.js';
import {
  CHECKPOINT_HIGHEST_ID_NAME,
  CHECKPOINT_MANIFEST_NAME,
  MAX_MANIFEST_BYTES,
  MAX_STATE_FILE_BYTES,
  OBJECT_CHECKPOINTS_PREFIX,
} from '../format/constants.js';
import { DEFAULT_OBJECT_COMPRESSION, type ResolvedCompression, resolveCompression } from '../io/codecs.js';
import { createObjectStorage } from '../io/file-object-storage.js';
import type { ObjectStoreConfig } from '../io/object-store-config.js';
import { S3ObjectStorage } from '../io/s3-object-storage.js';
import { checkFence, WriterFence } from '../io/writer-epoch.js';
import {
  CheckpointBatcher,
  type CheckpointBatcherOptions,
  type CheckpointBatcherStats,
  contentOf,
  emptyBatcherStats,
  fileUrl,
  objectNameOf,
  resolveBatcherOptions,
  sliceOfObject,
} from './checkpoint-batcher.js';
import { emitCheckpointStep } from './checkpoint-events.js';
import {
  type CheckpointDraft,
  type CheckpointStore,
  checkpointFileLimit,
  checkpointFileName,
  checkpointName,
  decodeManifestOf,
  encodeLatestPointer,
  highestIdOf,
  type LatestPointer,
  parseCheckpointName,
  readPointer,
  verifyCheckpointFile,
} from './checkpoint-store.js';
import { TieringPolicy, type TieringResult } from './tiering-policy.js';

const HIGHEST_ID_KEY = `${OBJECT_CHECKPOINTS_PREFIX}/${CHECKPOINT_HIGHEST_ID_NAME}`;

function checkpointPrefix(id: number): string {
  return `${OBJECT_CHECKPOINTS_PREFIX}/${checkpointName(id)}/`;
}

function manifestKey(id: number): string {
  return `${checkpointPrefix(id)}${CHECKPOINT_MANIFEST_NAME}`;
}

/** Key of a data file: under the manifest's attempt, or (no attempt) beside the manifest. */
function dataKey(manifest: Pick<CheckpointManifest, 'id' | 'attemptId'>, name: string): string {
  return manifest.attemptId === undefined
    ? `${checkpointPrefix(manifest.id)}${name}`
    : `${checkpointPrefix(manifest.id)}${manifest.attemptId}/${name}`;
}

/** {@link ObjectStoreCheckpointStore.stats}: the batcher's counters and the manifests' PUTs. */
export interface ObjectStoreCheckpointStats extends CheckpointBatcherStats {
  /** Manifests written: one PUT per checkpoint saved, its commit point (count). */
  manifestPuts: number;
}

/**
 * A {@link CheckpointStore} in an S3-compatible object store.
 *
 * Threads: one writer (`save`, `remove`, `cleanupOrphans`) at a time, from the thread that owns
 * the data directory; readers in other threads or processes use their own instance (a reader never
 * sees a half-written checkpoint; writers on other machines are fenced by epochs).
 */
export class ObjectStoreCheckpointStore implements CheckpointStore {
  /** The object store (bucket and prefix) the checkpoints live in. */
  readonly storage: S3ObjectStorage;
  private readonly ownsStorage: boolean;
  /** Codec of the data objects written (each object names its own codec for readers). */
  readonly compression: ResolvedCompression;
  private readonly batch: Required<CheckpointBatcherOptions>;
  private readonly counters: ObjectStoreCheckpointStats = { ...emptyBatcherStats(), manifestPuts: 0 };
  /** Storage classes by age (`objectStore.tiering`), or undefined: objects keep the bucket's class. */
  readonly tiering: TieringPolicy | undefined;
  /** What the last tiering pass did, or its failure (tiering never fails a checkpoint). */
  lastTiering: TieringResult | TidemarkError | undefined;

  /**
   * A store on `storage`, or on a new client for `config` (`TIDEMARK_INVALID_ARGUMENT` when
   * bad). `options` (default: the config's `compression` and `batch`) set how data files are
   * written; see {@link ObjectStoreConfig.compression}.
   */
  constructor(
    storage: S3ObjectStorage | ObjectStoreConfig,
    options: Pick<ObjectStoreConfig, 'compression' | 'batch' | 'tiering'> = {},
  ) {
    // A client built elsewhere (a fenced writer's, a filtered view's) carries the same config:
    // its compression, batching and tiering apply to what this store writes.
    const config = storage instanceof S3ObjectStorage ? storage.config : storage;
    this.compression = resolveCompression(
      'objectStore.compression',
      options.compression ?? config?.compression,
      DEFAULT_OBJECT_COMPRESSION,
    );
    this.batch = resolveBatcherOptions(options.batch ?? config?.batch);
    this.tiering = TieringPolicy.of(options.tiering ?? config?.tiering);
    this.ownsStorage = !(storage instanceof S3ObjectStorage);
    this.storage = storage instanceof S3ObjectStorage ? storage : createObjectStorage(storage);
  }

  /**
   * Counters of every checkpoint this store saved: data-object PUTs (`puts`), manifest PUTs,
   * files packed or alone, bytes before and after compression. A checkpoint costs `puts` +
   * `manifestPuts` PUT requests: 2 for a small one (docs/OBJECT-STORE.md).
   */
  stats(): ObjectStoreCheckpointStats {
    return { ...this.counters };
  }

  get location(): string {
    return `${this.storage.url}/${OBJECT_CHECKPOINTS_PREFIX}`;
  }

  /** Closes the client when this store created it. */
  close(): void {
    if (this.ownsStorage) this.storage.destroy();
  }

  /** Every checkpoint id with any object, and whether its manifest exists. */
  private async scan(): Promise<Map<number, { manifest: boolean; keys: string[] }>> {
    const found = new Map<number, { manifest: boolean; keys: string[] }>();
    for (const o of await this.storage.list(`${OBJECT_CHECKPOINTS_PREFIX}/`)) {
      const rest = o.key.slice(OBJECT_CHECKPOINTS_PREFIX.length + 1);
      const slash = rest.indexOf('/');
      if (slash < 0) continue; // `highest-id`, or an earlier version's `latest`
      const id = parseCheckpointName(rest.slice(0, slash));
      if (id === undefined) continue;
      let entry = found.get(id);
      if (!entry) {
        entry = { manifest: false, keys: [] };
        found.set(id, entry);
      }
      entry.keys.push(o.key);
      if (rest.slice(slash + 1) === CHECKPOINT_MANIFEST_NAME) entry.manifest = true;
    }
    return found;
  }

  async list(): Promise<number[]> {
    const ids: number[] = [];
    for (const [id, e] of await this.scan()) if (e.manifest) ids.push(id);
    return ids.sort((a, b) => a - b);
  }

  async nextId(): Promise<number> {
    const burned = await readPointer(() => this.storage.get(HIGHEST_ID_KEY, 256));
    return highestIdOf((await this.scan()).keys(), 'missing', burned) + 1;
  }

  async save(draft: CheckpointDraft): Promise<CheckpointManifest> {
    const id = draft.manifest.id;
    if ((await this.storage.head(manifestKey(id))) !== undefined) {
      throw new TidemarkError(
        'TIDEMARK_INVALID_ARGUMENT',
        `checkpoint ${id} already exists in ${this.location}`,
      );
    }
    const attemptId = randomUUID();
    const fence = WriterFence.of(this.storage);
    const batcher = new CheckpointBatcher(this.storage, (name) => dataKey({ id, attemptId }, name), {
      ...this.batch,
      compression: this.compression,
      put: this.tiering?.putOptions('hot'),
    });
    for (const file of draft.files) {
      const name = checkpointFileName(file.role);
      await batcher.add({ name, role: file.role, chunks: file.chunks });
      emitCheckpointStep('file-written', id, { file: name, kind: draft.manifest.kind });
    }
    const files: CheckpointFileEntry[] = await batcher.finish();
    for (const f of files) emitCheckpointStep('file-synced', id, { file: f.name, kind: draft.manifest.kind });
    const counted = batcher.stats();
    for (const k of Object.keys(counted) as (keyof CheckpointBatcherStats)[]) this.counters[k] += counted[k];
    const manifest: CheckpointManifest = {
      ...draft.manifest,
      files,
      sizeBytes: files.reduce((s, f) => s + f.sizeBytes, 0),
      attemptId,
      ...(fence ? { writerEpoch: fence.epoch } : {}),
    };
    draft.beforeCommit?.(manifest);
    // Fencing (docs/OBJECT-STORE.md): checked before the commit point and after it.
    await fence?.check(`checkpoint ${id}`);
    await this.storage.put(manifestKey(id), encodeManifest(manifest), {
      createOnly: true,
      ...this.tiering?.putOptions('hot'),
    });
    this.counters.manifestPuts++;
    emitCheckpointStep('manifest-committed', id, { kind: manifest.kind });
    // Checked again after the commit point, so a writer fenced meanwhile fails instead of
    // reporting a checkpoint that readers ignore (its epoch is cut off by the newer claim).
    await fence?.check(`checkpoint ${id} after its manifest`);
    if (this.tiering) await this.applyTiering();
    return manifest;
  }

  /**
   * One tiering pass (after every save when `tiering` is on): older chains to warm, covered WAL
   * archive to cold. Its outcome is kept in `lastTiering`; a failure never fails the save (the
   * next pass retries), it only leaves objects in a hotter, dearer class.
   */
  async applyTiering(): Promise<void> {
    if (!this.tiering) return;
    try {
      this.lastTiering = await this.tiering.apply(this.storage, this);
    } catch (err) {
      this.lastTiering = isTidemarkError(err)
        ? err
        : new TidemarkError('TIDEMARK_IO', String(err), { cause: err });
    }
  }

  async loadManifest(id: number): Promise<CheckpointManifest> {
    const key = manifestKey(id);
    const url = this.storage.urlOf(key);
    let bytes: Uint8Array;
    try {
      bytes = await this.storage.get(key, MAX_MANIFEST_BYTES);
    } catch (err) {
      if (isTidemarkError(err, 'TIDEMARK_NOT_FOUND'))
        throw new TidemarkError('TIDEMARK_NOT_FOUND', `checkpoint ${id} does not exist in ${this.location}`, {
          path: url,
        });
      if (isTidemarkError(err, 'TIDEMARK_LIMIT'))
        throw corruption(url, 0, 'manifest larger than any valid one');
      throw err;
    }
    return decodeManifestOf(id, bytes, url);
  }

  async readFile(manifest: CheckpointManifest, file: CheckpointFileEntry): Promise<Uint8Array> {
    const key = dataKey(manifest, objectNameOf(file));
    // A packed file is a slice of a shared object, named `…/batch-0.bin#state.base` in errors.
    const url = fileUrl(this.storage.urlOf(key), file);
    const limit = checkpointFileLimit(url, file);
    // Read the object (its own CRC32C is checked by the storage), then the file's bytes are
    // checked against the manifest like any file's, then decompressed (length checked).
    const objectLimit = file.object === undefined ? limit : MAX_STATE_FILE_BYTES;
    const stored = await verifyCheckpointFile(url, file, () =>
      sliceOfObject(file, url, () => this.storage.get(key, objectLimit)),
    );
    return contentOf(stored, url);
  }

  /**
   * The highest checkpoint id with a manifest in a listing, or `missing`: an object store keeps
   * no pointer object (see the module comment), so this is never `corrupt` nor stale.
   */
  async readLatestPointer(): Promise<LatestPointer> {
    return (await this.list()).at(-1) ?? 'missing';
  }

  async remove(ids: readonly number[]): Promise<void> {
    if (ids.length === 0) return;
    await checkFence(this.storage, `the deletion of checkpoint(s) ${ids.join(', ')}`);
    const present = await this.scan();
    for (const id of ids) {
      const entry = present.get(id);
      if (!entry) continue;
      // The manifest goes first: a crash midway leaves an orphan, never half a checkpoint.
      if (entry.manifest) await this.storage.delete([manifestKey(id)]);
      await this.storage.delete(entry.keys.filter((k) => k !== manifestKey(id)));
    }
  }

  async cleanupOrphans(): Promise<string[]> {
    const removed: string[] = [];
    const found = await this.scan();
    if ([...found.values()].some((e) => !e.manifest)) {
      // Burn the orphans' ids before their objects disappear: ids never repeat.
      const floor = await this.nextId();
      await this.storage.put(HIGHEST_ID_KEY, encodeLatestPointer(floor - 1));
    }
    for (const [id, entry] of found) {
      let doomed: string[];
      if (!entry.manifest) doomed = entry.keys;
      else {
        // Data of attempts other than the committed one: a lost race, or a retried save.
        const manifest = await this.loadManifest(id).catch(() => undefined);
        if (manifest === undefined) continue; // damaged: left for validation to report
        const keep = new Set([
          manifestKey(id),
          ...manifest.files.map((f) => dataKey(manifest, objectNameOf(f))),
        ]);
        doomed = entry.keys.filter((k) => !keep.has(k));
      }
      if (doomed.length > 0) {
        await this.storage.delete(doomed);
        removed.push(...doomed);
      }
    }
    return removed;
  }
}
