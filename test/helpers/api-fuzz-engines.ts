// One face for both stores, so the API fuzzer (test/property/api-fuzz.property.test.ts) drives the
// simple store (RecoveryManager.open) and the changelog-aware store (openChangelogAwareStore)
// through the same calls. Arguments are `unknown` on purpose: the fuzzer passes wrong types.
import type { CheckpointExtras } from '../../src/format/checkpoint-manifest.ts';
import { openChangelogAwareStore } from '../../src/pipeline/index.ts';
import type { RecoveredState } from '../../src/recovery/index.ts';
import { RecoveryManager } from '../../src/recovery/index.ts';

export type EngineKind = 'simple' | 'changelog';

/** How a store is opened. */
export interface OpenSpec {
  kind: EngineKind;
  dir: string;
  transactional: boolean;
  /** Changelog store only: a small ring (16 entries, 4 KiB arena) to reach the full-ring paths. */
  smallRing: boolean;
  backpressure: 'wait' | 'throw';
  /** Changelog store only: bytes Ring 0 may queue behind a full ring (undefined: the default). */
  maxQueuedBytes: number | undefined;
  /** 4 KiB WAL segments (rotation, truncation after checkpoints); on the changelog store also
   *  Ring 1's own checkpoints every 8 KiB of WAL. */
  smallSegments: boolean;
}

/** The calls the fuzzer makes, the same on both stores. */
export interface FuzzHandle {
  readonly kind: EngineKind;
  readonly recovered: RecoveredState;
  /** Largest put payload (4 + key + value bytes) the store takes. */
  readonly maxPutPayloadBytes: number;
  put(key: unknown, value: unknown): number;
  delete(key: unknown): number;
  commit(offsets: unknown, watermark: unknown): number;
  flushed(position: unknown): Promise<void>;
  durable(): Promise<void>;
  checkpoint(extras?: unknown): Promise<unknown>;
  writable(): Promise<void>;
  close(): Promise<void>;
  /** Position (LSN or changelog sequence) of the last entry handed out. */
  readonly lastPosition: number;
  readonly size: number;
  get(key: string): Uint8Array | undefined;
  entries(): Iterable<[string, Uint8Array]>;
  readonly sourceOffsets: Readonly<Record<string, number>>;
  readonly watermark: number | undefined;
}

const SMALL_RING = { capacityEntries: 16, arenaBytes: 4096 };
const SMALL_WAL = { segmentSizeBytes: 4096 };

export async function openHandle(spec: OpenSpec): Promise<FuzzHandle> {
  if (spec.kind === 'simple') {
    const opened = await new RecoveryManager({
      dir: spec.dir,
      transactional: spec.transactional,
      ...(spec.smallSegments ? { wal: SMALL_WAL } : {}),
    }).open();
    const s = opened.store;
    return {
      kind: 'simple',
      recovered: opened.recovered,
      maxPutPayloadBytes: 16 * 1024 * 1024,
      put: (k, v) => s.put(k as string, v as Uint8Array),
      delete: (k) => s.delete(k as string),
      commit: (o, w) => s.commit(o as Record<string, number>, w as number),
      flushed: (p) => s.flushed(p as number),
      durable: () => s.durable(),
      checkpoint: (x) => opened.checkpoint(x as CheckpointExtras),
      writable: () => Promise.resolve(),
      close: () => opened.close(),
      get lastPosition() {
        return s.wal.lastLsn;
      },
      get size() {
        return s.size;
      },
      get: (k) => s.get(k),
      entries: () => s.entries(),
      get sourceOffsets() {
        return s.sourceOffsets;
      },
      get watermark() {
        return s.watermark;
      },
    };
  }
  const { store: s, recovered } = await openChangelogAwareStore({
    dir: spec.dir,
    transactional: spec.transactional,
    backpressure: spec.backpressure,
    ...(spec.smallRing ? { ring: SMALL_RING } : {}),
    ...(spec.maxQueuedBytes !== undefined ? { maxQueuedBytes: spec.maxQueuedBytes } : {}),
    ...(spec.smallSegments ? { wal: SMALL_WAL, checkpointWalBytes: 8192 } : {}),
  });
  return {
    kind: 'changelog',
    recovered,
    maxPutPayloadBytes: Math.min(16 * 1024 * 1024, (spec.smallRing ? SMALL_RING.arenaBytes : 32 << 20) >>> 2),
    put: (k, v) => s.put(k as string, v as Uint8Array),
    delete: (k) => s.delete(k as string),
    commit: (o, w) => s.commit(o as Record<string, number>, w as number),
    flushed: (p) => s.flushed(p as number),
    durable: () => s.durable(),
    checkpoint: (x) => s.checkpoint(x as CheckpointExtras),
    writable: () => s.writable(),
    close: () => s.close(),
    get lastPosition() {
      return s.lastSequenceNumber;
    },
    get size() {
      return s.size;
    },
    get: (k) => s.get(k),
    entries: () => s.entries(),
    get sourceOffsets() {
      return s.sourceOffsets;
    },
    get watermark() {
      return s.watermark;
    },
  };
}
