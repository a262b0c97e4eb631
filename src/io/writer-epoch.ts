/**
 * Writer epochs and fencing on an object-store prefix (docs/OBJECT-STORE.md): one writer per
 * prefix, the way a lock is one writer per directory — but an object store has no locks, and a
 * paused process ("zombie") can wake up after another machine took over. After Kafka's producer
 * epochs and the fencing tokens of Chubby/ZooKeeper:
 *
 * - Opening a store claims a new epoch: `writers/<20-digit epoch>` created with
 *   `If-None-Match: *`, the next epoch being the highest listed + 1. Of two claimants of one
 *   epoch exactly one wins; the loser lists again and tries the next (bounded).
 * - The claim records the *cutoff*: the newest checkpoint id and archived segment number visible
 *   at the moment of the claim. Objects of older epochs beyond it were published by a fenced
 *   writer after the takeover and are never visible (see {@link WriterHistory.isVisible}).
 * - Every publish is preceded (and followed) by {@link WriterFence.check}: when a newer epoch
 *   exists the writer is fenced, `TIDEMARK_FENCED`, for good.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { isTidemarkError, TidemarkError } from '../errors.js';
import { crc32c } from '../format/crc32c.js';
import type { S3ObjectStorage } from './s3-object-storage.js';

/** Key prefix (under the store's prefix) of the writer epochs. */
export const WRITERS_PREFIX = 'writers';
/** User-metadata name (`x-amz-meta-tidemark-epoch`) carrying the epoch of an archived object. */
export const META_EPOCH = 'tidemark-epoch';
/** Most claims tried when other writers keep winning the race for the next epoch. */
const MAX_CLAIM_ATTEMPTS = 16;
/** Largest writer record read (about 70 bytes per earlier epoch). */
const MAX_RECORD_BYTES = 4 * 1024 * 1024;

/** The kinds of published objects whose visibility the epochs decide. */
export type EpochObjectKind = 'checkpoint' | 'segment';

/** What a claimant saw published when it claimed: its predecessors' valid history ends there. */
export interface EpochCutoff {
  /** Newest visible checkpoint id (0: none). */
  checkpoint: number;
  /** Newest visible archived WAL segment number (0: none). */
  segment: number;
  /**
   * Per-core engine: newest visible archived segment of each core's log, by core id (absent
   * core: 0). Absent in a single-log writer's claim. See {@link WriterHistory.forCore}.
   */
  cores?: Record<string, number>;
}

/** One claim as the visibility rule needs it. */
export interface EpochClaim {
  /** The claimed writer epoch (1, 2, … per prefix). */
  epoch: number;
  /** What the claimant saw published when it claimed. */
  cutoff: EpochCutoff;
}

/**
 * The object `writers/<epoch>`. It repeats every earlier claim (`earlier`), so that reading the
 * newest record alone gives the whole history: one GET per open, however many epochs.
 */
export interface WriterRecord extends EpochClaim {
  /** Wall-clock time of the claim, ms since the Unix epoch. */
  claimedAtMs: number;
  /** Random id of the claiming process's open store. */
  writerId: string;
  /** Host name of the claiming process (diagnostics). */
  host: string;
  /** Process id of the claiming process (diagnostics). */
  pid: number;
  /** Every earlier claim, oldest first. */
  earlier: EpochClaim[];
}

/** A writer epoch claimed by this process, handed to another client or thread (plain data). */
export interface ClaimedEpoch {
  /** The writer epoch claimed. */
  epoch: number;
  /** The prefix's claims, this one included. */
  records: readonly EpochClaim[];
}

/** Key of epoch `epoch`'s record. */
export function writerKey(epoch: number): string {
  return `${WRITERS_PREFIX}/${String(epoch).padStart(20, '0')}`;
}

function parseWriterKey(key: string): number | undefined {
  const m = /^writers\/(\d{20})$/.exec(key);
  return m ? Number(m[1]) : undefined;
}

/** Epoch numbers claimed on the prefix, ascending (one listing). */
export async function listEpochs(storage: S3ObjectStorage): Promise<number[]> {
  const epochs: number[] = [];
  for (const o of await storage.list(`${WRITERS_PREFIX}/`)) {
    const e = parseWriterKey(o.key);
    if (e !== undefined) epochs.push(e);
  }
  return epochs.sort((a, b) => a - b);
}

/** CRC32C of a record's JSON text without its `crc32c` member (the key order as written). */
function recordChecksum(record: object): number {
  return crc32c(Buffer.from(JSON.stringify(record), 'utf8'));
}

/** A record's bytes: its JSON with a `crc32c` member last, over the JSON before it was added. */
function encodeRecord(record: WriterRecord): Buffer {
  return Buffer.from(`${JSON.stringify({ ...record, crc32c: recordChecksum(record) })}\n`);
}

function decodeRecord(storage: S3ObjectStorage, epoch: number, bytes: Uint8Array): WriterRecord {
  const url = storage.urlOf(writerKey(epoch));
  let r: WriterRecord & { crc32c?: unknown };
  try {
    r = JSON.parse(Buffer.from(bytes).toString('utf8')) as WriterRecord;
  } catch (err) {
    throw new TidemarkError('TIDEMARK_CORRUPTION', `${url} at byte 0: not a writer record`, {
      path: url,
      offset: 0,
      cause: err,
    });
  }
  // The checksum (records written before it existed carry none) catches a flipped digit that
  // still parses: a cutoff read one too high would make a fenced writer's objects visible.
  if (r !== null && typeof r === 'object' && 'crc32c' in r) {
    const { crc32c: stored, ...fields } = r;
    if (stored !== recordChecksum(fields))
      throw new TidemarkError('TIDEMARK_CORRUPTION', `${url} at byte 0: writer record checksum mismatch`, {
        path: url,
        offset: 0,
      });
  }
  const ok = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  const cores = (v: unknown) =>
    v === undefined ||
    (typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every(ok));
  const claim = (c: EpochClaim | undefined) =>
    ok(c?.epoch) && ok(c?.cutoff?.checkpoint) && ok(c?.cutoff?.segment) && cores(c?.cutoff?.cores);
  if (r?.epoch !== epoch || !claim(r) || !Array.isArray(r.earlier) || !r.earlier.every(claim))
    throw new TidemarkError(
      'TIDEMARK_CORRUPTION',
      `${url} at byte 0: not the writer record of epoch ${epoch}`,
      {
        path: url,
        offset: 0,
      },
    );
  return r;
}

/** Every writer record of a prefix: which objects of which epoch are visible. */
export class WriterHistory {
  /** Records, oldest epoch first. */
  constructor(
    /** Every claim of the prefix, oldest epoch first. */
    readonly records: readonly EpochClaim[],
  ) {}

  /** The newest epoch claimed (0: none; objects written before epochs existed have epoch 0). */
  get newestEpoch(): number {
    return this.records.at(-1)?.epoch ?? 0;
  }

  /**
   * True when an object of `kind` numbered `index`, published under `epoch` (0 when it names
   * none), belongs to the valid history: every writer that claimed a newer epoch saw it (its
   * number is within that claim's cutoff). An object beyond a newer claim's cutoff was
   * published by a fenced writer after the takeover.
   */
  isVisible(kind: EpochObjectKind, index: number, epoch: number): boolean {
    for (const r of this.records) if (r.epoch > epoch && index > r.cutoff[kind]) return false;
    return true;
  }

  /**
   * Archived segments numbered at or below this are visible whatever their epoch: the newest
   * claim's segment cutoff. Segments are archived in order and a new owner overwrites, from its
   * predecessor's cutoff on, every segment a fenced writer left in its way, so everything up to
   * the newest visible segment is its predecessors' or its own — unlike checkpoint ids, where a
   * fenced writer's id can sit below the new owner's (use {@link floor} for those).
   */
  segmentFloor(): number {
    return this.records.at(-1)?.cutoff.segment ?? Number.POSITIVE_INFINITY;
  }

  /**
   * The history as core `coreId`'s archive sees it: each claim's segment cutoff is its cutoff for
   * that core (0 when the claim names none: a claimant that saw no archive of that core), so
   * {@link isVisible} and {@link segmentFloor} apply per core (each core numbers its own segments).
   */
  forCore(coreId: number): WriterHistory {
    return new WriterHistory(
      this.records.map(({ epoch, cutoff }) => ({
        epoch,
        cutoff: { checkpoint: cutoff.checkpoint, segment: cutoff.cores?.[coreId] ?? 0 },
      })),
    );
  }

  /** The smallest cutoff of `kind` of any claim: objects at or below it are visible whatever their epoch. */
  floor(kind: EpochObjectKind): number {
    let min = Number.POSITIVE_INFINITY;
    for (const r of this.records) min = Math.min(min, r.cutoff[kind]);
    return min;
  }

  /**
   * The history: the newest record under `writers/` and the earlier claims it repeats. Rejects
   * `TIDEMARK_CORRUPTION` for a damaged record, `TIDEMARK_IO`.
   */
  static async read(storage: S3ObjectStorage): Promise<WriterHistory> {
    const newest = (await listEpochs(storage)).at(-1);
    if (newest === undefined) return new WriterHistory([]);
    const r = decodeRecord(storage, newest, await storage.get(writerKey(newest), MAX_RECORD_BYTES));
    return new WriterHistory([...r.earlier, { epoch: r.epoch, cutoff: r.cutoff }]);
  }
}

/** Options of {@link WriterFence.claim}. */
export interface ClaimEpochOptions {
  /**
   * What is visible now, given the history so far: the newest visible checkpoint id and archived
   * segment. Called again when a claim loses a race (the winner changed the history).
   */
  cutoffOf: (history: WriterHistory) => Promise<EpochCutoff>;
}

const fences = new WeakMap<S3ObjectStorage, WriterFence>();

/** This process's claim on a prefix: its epoch, and the check that it is still the newest. */
export class WriterFence {
  private fencedBy: TidemarkError | undefined;
  private readonly listeners: ((err: TidemarkError) => void)[] = [];

  /** The object store (and prefix) this fence claims. */
  readonly storage: S3ObjectStorage;
  /** The writer epoch this process claimed. */
  readonly epoch: number;
  /** The history including this claim. */
  readonly history: WriterHistory;
  /** The fence this one was shared from ({@link share}): it checks, and is fenced, through it. */
  private readonly parent: WriterFence | undefined;

  private constructor(claim: {
    storage: S3ObjectStorage;
    epoch: number;
    history: WriterHistory;
    parent?: WriterFence | undefined;
  }) {
    this.storage = claim.storage;
    this.epoch = claim.epoch;
    this.history = claim.history;
    this.parent = claim.parent;
  }

  /**
   * Claims the next epoch on `storage`'s prefix and registers the fence on `storage`, so that the
   * checkpoint store and WAL archiver using it check before each publish. Rejects
   * `TIDEMARK_CONFLICT` when 16 claims in a row lost the race,
   * `TIDEMARK_CORRUPTION` for a damaged writer record, `TIDEMARK_IO`.
   */
  static async claim(storage: S3ObjectStorage, options: ClaimEpochOptions): Promise<WriterFence> {
    const writerId = randomUUID();
    for (let attempt = 1; ; attempt++) {
      const history = await WriterHistory.read(storage);
      const epoch = history.newestEpoch + 1;
      const record: WriterRecord = {
        epoch,
        claimedAtMs: Date.now(),
        writerId,
        host: hostname(),
        pid: process.pid,
        cutoff: await options.cutoffOf(history),
        earlier: history.records.map(({ epoch, cutoff }) => ({ epoch, cutoff })),
      };
      try {
        await storage.put(writerKey(epoch), encodeRecord(record), { createOnly: true });
      } catch (err) {
        if (!isTidemarkError(err, 'TIDEMARK_CONFLICT') || attempt >= MAX_CLAIM_ATTEMPTS) throw err;
        continue; // another writer claimed this epoch first: list again, try the next
      }
      const fence = new WriterFence({
        storage,
        epoch,
        history: new WriterHistory([...history.records, { epoch, cutoff: record.cutoff }]),
      });
      fences.set(storage, fence);
      return fence;
    }
  }

  /** Registers this fence's epoch on another client of the same prefix (e.g. one per thread). */
  static resume(storage: S3ObjectStorage, epoch: number, history: WriterHistory): WriterFence {
    const fence = new WriterFence({ storage, epoch, history });
    fences.set(storage, fence);
    return fence;
  }

  /**
   * Registers this fence on another client of the same writer — e.g. one core's archive, a
   * client on a sub-prefix — with `history` as that client's view of the prefix's history
   * (e.g. {@link WriterHistory.forCore}). Publishes through that client check, and are fenced,
   * through this fence: one epoch, one `TIDEMARK_FENCED` for every part of the writer.
   */
  share(storage: S3ObjectStorage, history: WriterHistory = this.history): WriterFence {
    const root = this.parent ?? this;
    const shared = new WriterFence({ storage: root.storage, epoch: root.epoch, history, parent: root });
    fences.set(storage, shared);
    return shared;
  }

  /** The fence registered on `storage`, if a writer claimed an epoch with it. */
  static of(storage: S3ObjectStorage): WriterFence | undefined {
    return fences.get(storage);
  }

  /** The error this writer was fenced with, once it was. */
  get fenced(): TidemarkError | undefined {
    return this.parent ? this.parent.fenced : this.fencedBy;
  }

  /**
   * Resolves when no newer epoch is claimed on the prefix; otherwise rejects `TIDEMARK_FENCED`,
   * now and on every later call (a fenced writer never publishes again). `what` names the
   * publish, for the message.
   */
  async check(what: string): Promise<void> {
    if (this.parent) return this.parent.check(what);
    if (this.fencedBy) throw this.fencedBy;
    const newest = (await listEpochs(this.storage)).at(-1) ?? 0;
    if (newest > this.epoch && !this.fencedBy) {
      const err = new TidemarkError(
        'TIDEMARK_FENCED',
        `writer epoch ${this.epoch} on ${this.storage.url} was fenced by epoch ${newest} (another writer took over): refusing to publish ${what}`,
        { path: this.storage.urlOf(writerKey(newest)) },
      );
      this.fencedBy = err;
      for (const listener of this.listeners.splice(0)) listener(err);
    }
    if (this.fencedBy) throw this.fencedBy;
  }

  /** Calls `listener` once, when this writer is found fenced (at once when it already is). */
  onFenced(listener: (err: TidemarkError) => void): void {
    if (this.parent) this.parent.onFenced(listener);
    else if (this.fencedBy) listener(this.fencedBy);
    else this.listeners.push(listener);
  }

  /** This claim as plain data (for a worker thread: {@link WriterFence.resume}). */
  claimed(): ClaimedEpoch {
    return { epoch: this.epoch, records: this.history.records };
  }

  /** The metadata naming this writer's epoch, for an object it publishes. */
  metadata(): Record<string, string> {
    return { [META_EPOCH]: String(this.epoch) };
  }
}

/** Checks the fence registered on `storage` (nothing when no writer epoch was claimed on it). */
export async function checkFence(storage: S3ObjectStorage, what: string): Promise<void> {
  await WriterFence.of(storage)?.check(what);
}

/** Epoch named by an object's metadata (0 when none: written before epochs, or by a reader). */
export function epochOfMetadata(metadata: Readonly<Record<string, string>> | undefined): number {
  const v = metadata?.[META_EPOCH];
  const n = v === undefined ? 0 : Number(v);
  return Number.isSafeInteger(n) && n >= 0 ? n : 0;
}
