/**
 * `FilteredCheckpointView`: an {@link ObjectStoreCheckpointStore} whose listing (and `latest`
 * pointer) shows only the checkpoints a predicate accepts, everything else unchanged. Recovery
 * uses it to follow only the valid history of a prefix with writer epochs (a checkpoint a fenced
 * writer published after the takeover is passed over, docs/OBJECT-STORE.md) and to stop at a
 * point in time (the newest checkpoint at or before a target LSN or time).
 *
 * Loading a manifest by id is not filtered (a visible delta's parents are loaded by id), and
 * `nextId()` still sees every id present, so a new checkpoint never reuses a hidden one's id.
 */
import type { CheckpointManifest } from '../format/checkpoint-manifest.js';
import type { S3ObjectStorage } from '../io/s3-object-storage.js';
import { WriterFence, WriterHistory } from '../io/writer-epoch.js';
import type { LatestPointer } from './checkpoint-store.js';
import { ObjectStoreCheckpointStore } from './object-store-checkpoint-store.js';

/** Which checkpoints a view shows; `manifest` is loaded only for ids above `trustedThrough`. */
export interface CheckpointFilter {
  /** Ids at or below this are shown without loading their manifest (0: load every one). */
  trustedThrough: number;
  accept(manifest: CheckpointManifest): boolean;
}

/** The filter of a prefix's writer history: checkpoints of a fenced writer after the takeover are hidden. */
export function epochFilter(history: WriterHistory): CheckpointFilter {
  return {
    trustedThrough: history.records.length === 0 ? Number.POSITIVE_INFINITY : history.floor('checkpoint'),
    accept: (m) => history.isVisible('checkpoint', m.id, m.writerEpoch ?? 0),
  };
}

/** Both filters: shown only when each shows it. */
export function bothFilters(a: CheckpointFilter, b: CheckpointFilter): CheckpointFilter {
  return {
    trustedThrough: Math.min(a.trustedThrough, b.trustedThrough),
    accept: (m) => a.accept(m) && b.accept(m),
  };
}

/** See the file comment. */
export class FilteredCheckpointView extends ObjectStoreCheckpointStore {
  private readonly accepted = new Map<number, boolean>();

  constructor(
    storage: S3ObjectStorage,
    private readonly filter: CheckpointFilter,
  ) {
    super(storage);
  }

  /** A view hiding what the writer history of `storage`'s prefix hides (the fence's, else read). */
  static async ofEpochs(storage: S3ObjectStorage): Promise<FilteredCheckpointView> {
    const history = WriterFence.of(storage)?.history ?? (await WriterHistory.read(storage));
    return new FilteredCheckpointView(storage, epochFilter(history));
  }

  private async shows(id: number): Promise<boolean> {
    if (id <= this.filter.trustedThrough) return true;
    let ok = this.accepted.get(id);
    if (ok === undefined) {
      // A manifest that does not load is shown: loading it reports the damage as usual.
      const manifest = await super.loadManifest(id).catch(() => undefined);
      ok = manifest === undefined || this.filter.accept(manifest);
      this.accepted.set(id, ok);
    }
    return ok;
  }

  override async list(): Promise<number[]> {
    const shown: number[] = [];
    for (const id of await super.list()) if (await this.shows(id)) shown.push(id);
    return shown;
  }

  override async readLatestPointer(): Promise<LatestPointer> {
    const said = await super.readLatestPointer();
    return typeof said === 'number' && !(await this.shows(said)) ? 'missing' : said;
  }
}
