/**
 * The draft of a per-core checkpoint: a base (every key) or a delta (the keys changed since its
 * parent, deleted ones as tombstones) — the same files and manifest fields as the single-log
 * engine's incremental checkpoints, so `loadLatestCheckpoint` materializes per-core chains too —
 * plus each core's synced position and committed offsets.
 */
import type { CheckpointManifest, ConnectorCheckpoint } from '../format/checkpoint-manifest.js';
import { MANIFEST_VERSION, StateFileKind } from '../format/constants.js';
import { encodeStateFileChunks, type StateFileEntry } from '../format/state-file.js';
import type { WalPosition } from '../wal/wal-reader.js';
import type { CheckpointDraft } from './checkpoint-store.js';

/** What {@link perCoreCheckpointDraft} writes. */
export interface PerCoreDraftInput {
  id: number;
  epoch: number;
  kind: 'base' | 'delta';
  /** The checkpoint a delta applies to (required for a delta). */
  parent: CheckpointManifest | undefined;
  /** The whole state after this checkpoint. */
  state: { readonly size: number; entries(): Iterable<[string, Uint8Array]> };
  /** Keys changed since `parent`: value, or undefined for a deleted key (a delta writes these). */
  changed: ReadonlyMap<string, Uint8Array | undefined>;
  /** Each core's synced position the checkpoint covers, by core id. */
  positions: Record<string, WalPosition>;
  /** Each core's committed offsets, by connector name (`core-<id>`). */
  connectors: Record<string, ConnectorCheckpoint>;
}

/** A base or delta draft for `CheckpointStore.save` (byte counts filled in before the commit). */
export function perCoreCheckpointDraft(input: PerCoreDraftInput): CheckpointDraft {
  const { id, epoch, kind, parent: p, state, changed } = input;
  const delta = kind === 'delta' && p !== undefined;
  let tombstones = 0;
  if (delta) for (const value of changed.values()) if (value === undefined) tombstones++;
  const entries = delta ? changed.size : state.size;
  const source: Iterable<StateFileEntry> = delta
    ? changed.entries()
    : (state.entries() as Iterable<StateFileEntry>);
  const role = delta ? 'delta' : 'base';
  return {
    manifest: {
      version: MANIFEST_VERSION,
      id,
      epoch,
      createdAtMs: Date.now(),
      kind: role,
      parentId: delta ? p.id : null,
      baseId: delta ? p.baseId : id,
      chainLength: delta ? p.chainLength + 1 : 0,
      walPosition: { lsn: 0 },
      perCoreWalPositions: input.positions,
      sourceOffsets: {},
      connectors: input.connectors,
      operators: {},
      sinkEpochs: {},
      sinkCommitStatuses: {},
      watermark: null,
      sourceWatermarks: {},
      state: { keys: state.size, entriesWritten: entries, tombstones, baseBytes: 0, deltaBytesSinceBase: 0 },
    },
    files: [
      {
        role,
        chunks: encodeStateFileChunks(delta ? StateFileKind.Delta : StateFileKind.Base, entries, source),
      },
    ],
    beforeCommit: (m) => {
      const bytes = m.files.find((f) => f.role === role)!.sizeBytes;
      m.state.baseBytes = delta ? p.state.baseBytes : bytes;
      m.state.deltaBytesSinceBase = delta ? p.state.deltaBytesSinceBase + bytes : 0;
    },
  };
}
