/**
 * `TieringPolicy` (after LaminarDB laminar-storage 0.18's `TieringPolicy` and its storage
 * classes): which S3 storage class each object of an object store belongs in as it ages.
 *
 * - **hot** — the latest checkpoint chain (its base, its deltas, their manifests) and the WAL
 *   archive's tail (segments holding records after the latest checkpoint): what a recovery reads.
 * - **warm** — checkpoints of older chains, kept by retention as fallbacks (read only when the
 *   newest chain is damaged).
 * - **cold** — archived WAL segments the latest checkpoint covers entirely (kept by retention for
 *   a fallback to an older checkpoint; read rarely, if ever).
 *
 * New objects are written hot (class and tag `tidemark-tier=hot` on the PUT); `apply()` then
 * rewrites objects whose tier changed (CopyObject onto itself with the new class, then its tags),
 * after each checkpoint. Tiers only move hot → warm → cold, so a rewrite is never undone by the
 * next. The policy remembers what it has already placed, so a steady state costs one listing
 * (and one HEAD per new archived segment) per checkpoint.
 */
import { TidemarkError } from '../errors.js';
import { OBJECT_CHECKPOINTS_PREFIX } from '../format/constants.js';
import type { PutOptions, S3ObjectStorage } from '../io/s3-object-storage.js';
import { ARCHIVE_META_FIRST_LSN } from '../wal/archive-object.js';
import { archivedSegmentKey, listArchivedSegments } from '../wal/wal-archiver.js';
import type { CheckpointStore } from './checkpoint-store.js';
import { parseCheckpointName } from './checkpoint-store.js';

/** The storage classes a tier may use. */
export const STORAGE_CLASSES = ['STANDARD', 'EXPRESS_ONEZONE', 'INTELLIGENT_TIERING', 'GLACIER_IR'] as const;
/** One of {@link STORAGE_CLASSES}. */
export type StorageClassName = (typeof STORAGE_CLASSES)[number];
/** How hot an object is. */
export type Tier = 'hot' | 'warm' | 'cold';
/** The object tag naming an object's tier. */
export const TIER_TAG = 'tidemark-tier';
const RANK: Record<Tier, number> = { hot: 0, warm: 1, cold: 2 };

/** The class of each tier (see {@link TieringPolicy}). */
export interface TieringPolicyOptions {
  /** Default `STANDARD`. (`EXPRESS_ONEZONE` needs an S3 directory bucket on AWS.) */
  hot?: string | undefined;
  /** Default `INTELLIGENT_TIERING`. */
  warm?: string | undefined;
  /** Default `GLACIER_IR` (Glacier Instant Retrieval: millisecond reads, so recovery still works). */
  cold?: string | undefined;
}

/** What {@link TieringPolicy.apply} did. */
export interface TieringResult {
  /** Objects whose tier was decided. */
  examined: number;
  /** Objects rewritten into another class. */
  rewritten: number;
  /** Objects per tier, after. */
  tiers: Record<Tier, number>;
}

function checkClass(argument: string, value: unknown, fallback: StorageClassName): StorageClassName {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !(STORAGE_CLASSES as readonly string[]).includes(value))
    throw new TidemarkError(
      'TIDEMARK_INVALID_ARGUMENT',
      `${argument} must be one of ${STORAGE_CLASSES.join(', ')}, got ${JSON.stringify(value)}`,
      { argument },
    );
  return value as StorageClassName;
}

/** Storage classes by age for the objects of one store. */
export class TieringPolicy {
  /** The storage class of each tier (hot, warm, cold), defaults filled in. */
  readonly classes: Readonly<Record<Tier, StorageClassName>>;
  /** Tier each object was last placed in by this policy (or found in). */
  private readonly placed = new Map<string, Tier>();

  /** Throws `TIDEMARK_INVALID_ARGUMENT` for an unknown class. */
  constructor(options: TieringPolicyOptions = {}) {
    if (options === null || typeof options !== 'object')
      throw new TidemarkError('TIDEMARK_INVALID_ARGUMENT', 'objectStore.tiering must be true or an object', {
        argument: 'objectStore.tiering',
      });
    this.classes = {
      hot: checkClass('objectStore.tiering.hot', options.hot, 'STANDARD'),
      warm: checkClass('objectStore.tiering.warm', options.warm, 'INTELLIGENT_TIERING'),
      cold: checkClass('objectStore.tiering.cold', options.cold, 'GLACIER_IR'),
    };
  }

  /** The policy a config asks for (`undefined`/`false`: none). */
  static of(config: boolean | TieringPolicyOptions | undefined): TieringPolicy | undefined {
    if (config === undefined || config === false) return undefined;
    return new TieringPolicy(config === true ? {} : config);
  }

  /** PUT options placing a new object in `tier`: its class and tag. */
  putOptions(tier: Tier): Pick<PutOptions, 'storageClass' | 'tags'> {
    return { storageClass: this.classes[tier], tags: { [TIER_TAG]: tier } };
  }

  /**
   * The tier every object of the store should be in now: checkpoint objects by chain, archived
   * segments by whether the latest checkpoint covers them. `store` gives the latest checkpoint.
   */
  async plan(storage: S3ObjectStorage, store: CheckpointStore): Promise<Map<string, Tier>> {
    const ids = await store.list();
    const plan = new Map<string, Tier>();
    const latestId = ids.at(-1);
    if (latestId === undefined) return plan;
    const latest = await store.loadManifest(latestId);
    for (const o of await storage.list(`${OBJECT_CHECKPOINTS_PREFIX}/`)) {
      const rest = o.key.slice(OBJECT_CHECKPOINTS_PREFIX.length + 1);
      const slash = rest.indexOf('/');
      const id = slash < 0 ? undefined : parseCheckpointName(rest.slice(0, slash));
      if (id === undefined) continue; // `latest`, `highest-id`: tiny hints, left as written
      plan.set(o.key, id >= latest.baseId ? 'hot' : 'warm');
    }
    const coveredBefore = latest.walPosition.lsn + 1;
    const segments = await listArchivedSegments(storage);
    for (let i = 0; i < segments.length; i++) {
      const key = archivedSegmentKey(segments[i]!.number);
      const next = segments[i + 1];
      let tier: Tier = 'hot';
      if (next !== undefined && next.number === segments[i]!.number + 1) {
        const nextKey = archivedSegmentKey(next.number);
        if (this.placed.get(key) === 'cold') tier = 'cold';
        else {
          const head = await storage.head(nextKey);
          const firstLsn = Number(head?.metadata[ARCHIVE_META_FIRST_LSN] ?? Number.NaN);
          if (firstLsn <= coveredBefore) tier = 'cold';
        }
      }
      plan.set(key, tier);
    }
    return plan;
  }

  /**
   * Moves every object whose tier changed into its new class (never back to a hotter one).
   * Rejects `TIDEMARK_IO` when the store cannot be reached; what was rewritten stays rewritten.
   */
  async apply(storage: S3ObjectStorage, store: CheckpointStore): Promise<TieringResult> {
    const plan = await this.plan(storage, store);
    const result: TieringResult = { examined: plan.size, rewritten: 0, tiers: { hot: 0, warm: 0, cold: 0 } };
    for (const [key, wanted] of plan) {
      let current = this.placed.get(key);
      if (current === undefined) {
        const head = await storage.head(key);
        if (head === undefined) continue;
        current = tierOfClass(this.classes, head.storageClass ?? 'STANDARD');
      }
      const tier = RANK[wanted] > RANK[current] ? wanted : current;
      if (tier !== current || !this.placed.has(key)) {
        if (tier !== current) {
          await storage.rewriteClass(key, this.putOptions(tier));
          result.rewritten++;
        }
        this.placed.set(key, tier);
      }
      result.tiers[tier]++;
    }
    for (const key of [...this.placed.keys()]) if (!plan.has(key)) this.placed.delete(key);
    return result;
  }
}

/** The tier a class stands for under `classes` (the hottest tier using it; hot for unknown ones). */
function tierOfClass(classes: Readonly<Record<Tier, string>>, storageClass: string): Tier {
  for (const t of ['hot', 'warm', 'cold'] as const) if (classes[t] === storageClass) return t;
  return 'hot';
}
