/**
 * What `tidemark verify` says about the data files of the checkpoints it found (local or in an
 * object store): bytes stored against bytes once decompressed, and files per codec — from the
 * manifests alone (`codec` and `uncompressedBytes` of each file entry; a file without them is
 * plain, counted as `plain`).
 */
import type { CheckpointManifest } from '../format/checkpoint-manifest.js';

/** Data files of a set of checkpoints. */
export interface CheckpointFilesSummary {
  files: number;
  /** Bytes as stored (compressed files: their frames). */
  storedBytes: number;
  /** Bytes once decompressed (plain files count as stored). */
  uncompressedBytes: number;
  /** Files per codec (`plain`: not framed). */
  codecs: Record<string, number>;
}

/** Sums the file entries of `manifests` (undefined ones, unreadable manifests, are skipped). */
export function summarizeCheckpointFiles(
  manifests: Iterable<CheckpointManifest | undefined>,
): CheckpointFilesSummary {
  const summary: CheckpointFilesSummary = { files: 0, storedBytes: 0, uncompressedBytes: 0, codecs: {} };
  for (const m of manifests) {
    for (const f of m?.files ?? []) {
      summary.files++;
      summary.storedBytes += f.sizeBytes;
      summary.uncompressedBytes += f.uncompressedBytes ?? f.sizeBytes;
      const codec = f.codec ?? 'plain';
      summary.codecs[codec] = (summary.codecs[codec] ?? 0) + 1;
    }
  }
  return summary;
}

/** `checkpoint files  3 files, 1,234 B stored, 5,678 B uncompressed (4.60x; zstd 3)`. */
export function checkpointFilesLine(s: CheckpointFilesSummary): string {
  const n = (x: number) => x.toLocaleString('en-US');
  const ratio = s.storedBytes > 0 ? (s.uncompressedBytes / s.storedBytes).toFixed(2) : '-';
  const codecs = Object.entries(s.codecs)
    .map(([c, k]) => `${c} ${k}`)
    .join(', ');
  return `checkpoint files ${n(s.files)} files, ${n(s.storedBytes)} B stored, ${n(s.uncompressedBytes)} B uncompressed (${ratio}x; ${codecs})`;
}
