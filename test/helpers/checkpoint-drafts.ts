/** Checkpoint drafts for store-level tests: a base manifest and a base state file of text values. */
import type { CheckpointDraft } from '../../src/checkpoint/index.ts';
import { encodeStateFile, MANIFEST_VERSION, StateFileKind } from '../../src/format/index.ts';

/** The manifest of base checkpoint `id` covering WAL LSN `lsn` (default id × 10), files not yet listed. */
export function baseManifestDraft(id: number, lsn = id * 10): CheckpointDraft['manifest'] {
  return {
    version: MANIFEST_VERSION,
    id,
    epoch: id,
    createdAtMs: 1_700_000_000_000 + id,
    kind: 'base',
    parentId: null,
    baseId: id,
    chainLength: 0,
    walPosition: { lsn },
    perCoreWalPositions: {},
    sourceOffsets: { src: lsn },
    connectors: {},
    operators: {},
    sinkEpochs: {},
    sinkCommitStatuses: {},
    watermark: null,
    sourceWatermarks: {},
    state: { keys: 1, entriesWritten: 1, tombstones: 0, baseBytes: 0, deltaBytesSinceBase: 0 },
  };
}

/** A base state file holding `entries` (key, text value). */
export function baseStateFile(entries: readonly (readonly [string, string])[]): Uint8Array {
  return encodeStateFile(
    StateFileKind.Base,
    entries.length,
    entries.map(([k, v]) => [k, Buffer.from(v)] as const),
  );
}

/** A complete draft of base checkpoint `id` holding `entries`. */
export function baseDraft(id: number, entries: readonly (readonly [string, string])[]): CheckpointDraft {
  const manifest = baseManifestDraft(id);
  manifest.state = { ...manifest.state, keys: entries.length, entriesWritten: entries.length };
  return { manifest, files: [{ role: 'base', chunks: [baseStateFile(entries)] }] };
}
