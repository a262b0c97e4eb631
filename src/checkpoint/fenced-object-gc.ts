/**
 * Garbage of fenced writers (docs/OBJECT-STORE.md): a zombie paused between its fence check and
 * its PUT publishes a checkpoint or an archived segment after the takeover. The claims make it
 * invisible for good (its number is beyond a newer claim's cutoff, and cutoffs never change), so
 * nothing ever reads it — but nothing deleted it either, and such objects piled up with every
 * takeover. The current owner deletes them at checkpoint time, after its own retention.
 *
 * Only objects the owner's history makes invisible are deleted, never one it may show:
 * checkpoints above the lowest checkpoint cutoff whose manifest loads and names an epoch the
 * rule hides (an unreadable manifest is left for validation to report), archived segments above
 * the newest claim's segment cutoff whose epoch the rule hides. Each delete is preceded by the
 * fence check, so a writer fenced meanwhile deletes nothing.
 */
import { OBJECT_WAL_ARCHIVE_PREFIX } from '../format/constants.js';
import type { S3ObjectStorage } from '../io/s3-object-storage.js';
import { epochOfMetadata, WriterFence, type WriterHistory } from '../io/writer-epoch.js';
import { coreArchiveStorage, listArchivedCores } from '../wal/per-core-wal-archive.js';
import { parseSegmentFileName } from '../wal/segment-name.js';
import { ObjectStoreCheckpointStore } from './object-store-checkpoint-store.js';

/** What {@link collectFencedObjects} deleted. */
export interface FencedObjectsCollected {
  /** Checkpoint ids deleted (every object of each). */
  checkpoints: number[];
  /** Keys of archived segments deleted (per-core ones relative to their core's archive). */
  segments: string[];
}

/** Options of {@link collectFencedObjects}. */
export interface CollectFencedObjectsOptions {
  /** Also every core's archive (`wal/core-<id>/`): the per-core engine. Default false. */
  perCore?: boolean | undefined;
}

/** Per fence: objects already judged (create-only objects never change, so neither does the verdict). */
const judged = new WeakMap<WriterFence, Map<string, boolean>>();

function verdicts(fence: WriterFence): Map<string, boolean> {
  let m = judged.get(fence);
  if (!m) judged.set(fence, (m = new Map()));
  return m;
}

/**
 * Deletes what fenced writers published on the prefix of `storage` after a takeover (see the
 * module comment), using the fence registered on `storage`. Does nothing without a fence, or
 * when the prefix had a single writer epoch. Rejects `TIDEMARK_FENCED` (nothing deleted after
 * it), `TIDEMARK_IO`.
 */
export async function collectFencedObjects(
  storage: S3ObjectStorage,
  options: CollectFencedObjectsOptions = {},
): Promise<FencedObjectsCollected> {
  const collected: FencedObjectsCollected = { checkpoints: [], segments: [] };
  const fence = WriterFence.of(storage);
  if (!fence || fence.history.records.length < 2) return collected;
  const history = fence.history;
  const seen = verdicts(fence);

  const store = new ObjectStoreCheckpointStore(storage);
  const floor = history.floor('checkpoint');
  for (const id of await store.list()) {
    if (id <= floor) continue;
    const key = `checkpoint/${id}`;
    let visible = seen.get(key);
    if (visible === undefined) {
      const manifest = await store.loadManifest(id).catch(() => undefined);
      if (manifest === undefined) continue; // unreadable: left for validation to report
      visible = history.isVisible('checkpoint', id, manifest.writerEpoch ?? 0);
      seen.set(key, visible);
    }
    if (!visible) collected.checkpoints.push(id);
  }
  if (collected.checkpoints.length > 0) await store.remove(collected.checkpoints); // checks the fence

  collected.segments.push(...(await collectSegments(storage, { history, fence, label: '' })));
  if (options.perCore) {
    for (const c of await listArchivedCores(storage)) {
      const core = coreArchiveStorage(storage, c);
      try {
        collected.segments.push(
          ...(await collectSegments(core, { history: history.forCore(c), fence, label: `core-${c}:` })),
        );
      } finally {
        core.destroy();
      }
    }
  }
  return collected;
}

/** Deletes the archived segments under `storage` that `history` hides; resolves their keys. */
async function collectSegments(
  storage: S3ObjectStorage,
  view: { history: WriterHistory; fence: WriterFence; label: string },
): Promise<string[]> {
  const { history, fence, label } = view;
  const seen = verdicts(fence);
  const floor = history.segmentFloor();
  const doomed: string[] = [];
  for (const o of await storage.list(`${OBJECT_WAL_ARCHIVE_PREFIX}/`)) {
    const rest = o.key.slice(OBJECT_WAL_ARCHIVE_PREFIX.length + 1);
    const m = /^(.+)~e(\d{20})$/.exec(rest);
    const number = parseSegmentFileName(m ? m[1]! : rest);
    if (number === undefined || number <= floor) continue;
    const cacheKey = `${label}${o.key}`;
    let visible = seen.get(cacheKey);
    if (visible === undefined) {
      let epoch: number;
      if (m) epoch = Number(m[2]);
      else {
        const info = await storage.head(o.key);
        if (info === undefined) continue; // deleted meanwhile
        epoch = epochOfMetadata(info.metadata);
      }
      visible = history.isVisible('segment', number, epoch);
      seen.set(cacheKey, visible);
    }
    if (!visible) doomed.push(o.key);
  }
  if (doomed.length === 0) return [];
  await fence.check(`the deletion of ${doomed.length} archived segment(s) of fenced writers`);
  await storage.delete(doomed);
  for (const k of doomed) seen.delete(`${label}${k}`);
  return doomed;
}
