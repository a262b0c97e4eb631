/**
 * What `tidemark inspect` and `verify` say about an object store beyond its checkpoints: every
 * object's storage class and `tidemark-tier` tag, grouped, and the WAL archive's compressed
 * against uncompressed size and codecs — from listings and HEADs (no object is downloaded), so a
 * GLACIER_IR or INTELLIGENT_TIERING object costs no retrieval.
 */
import type { CheckpointManifest } from '../format/checkpoint-manifest.js';
import { createObjectStorage } from '../io/file-object-storage.js';
import { parseObjectStoreUrl } from '../io/object-store-config.js';
import { ARCHIVE_META_CODEC, ARCHIVE_META_RAW_SIZE } from '../wal/archive-object.js';

/** Objects of one class and tier. */
export interface TierGroup {
  /** `tidemark-tier` tag, or `untagged`. */
  tier: string;
  storageClass: string;
  objects: number;
  bytes: number;
}

/** The object store part of a report. */
export interface ObjectStoreSummary {
  url: string;
  tiers: TierGroup[];
  archive: {
    segments: number;
    /** Bytes stored (compressed). */
    storedBytes: number;
    /** Bytes of the segments themselves (from each object's metadata; plain objects count as stored). */
    uncompressedBytes: number;
    /** Segments per codec (`plain`: archived before compression). */
    codecs: Record<string, number>;
  };
}

/** Lists and HEADs every object under `url` (`s3://…`, `file://…`). Rejects `TIDEMARK_IO`. */
export async function summarizeObjectStore(url: string): Promise<ObjectStoreSummary> {
  const storage = createObjectStorage(parseObjectStoreUrl(url));
  try {
    const groups = new Map<string, TierGroup>();
    const archive = {
      segments: 0,
      storedBytes: 0,
      uncompressedBytes: 0,
      codecs: {} as Record<string, number>,
    };
    for (const o of await storage.list('')) {
      const head = await storage.head(o.key);
      if (head === undefined) continue; // deleted meanwhile
      const tags = await storage.tagsOf(o.key).catch(() => ({}) as Record<string, string>);
      const tier = tags['tidemark-tier'] ?? 'untagged';
      const storageClass = head.storageClass ?? 'STANDARD';
      const id = `${tier}\u0000${storageClass}`;
      const g = groups.get(id) ?? { tier, storageClass, objects: 0, bytes: 0 };
      g.objects++;
      g.bytes += head.sizeBytes;
      groups.set(id, g);
      if (o.key.startsWith('wal/') && o.key.endsWith('.log')) {
        archive.segments++;
        archive.storedBytes += head.sizeBytes;
        const raw = head.metadata[ARCHIVE_META_RAW_SIZE];
        archive.uncompressedBytes += raw === undefined ? head.sizeBytes : Number(raw);
        const codec = head.metadata[ARCHIVE_META_CODEC] ?? 'plain';
        archive.codecs[codec] = (archive.codecs[codec] ?? 0) + 1;
      }
    }
    const tiers = [...groups.values()].sort((a, b) =>
      (a.tier + a.storageClass).localeCompare(b.tier + b.storageClass),
    );
    return { url: storage.url, tiers, archive };
  } finally {
    storage.destroy();
  }
}

/** Lines describing `summary`, for the text output. */
export function objectStoreLines(summary: ObjectStoreSummary): string[] {
  const mb = (n: number) => n.toLocaleString('en-US');
  const lines = [`object store    ${summary.url}`];
  for (const g of summary.tiers)
    lines.push(
      `  tier ${g.tier.padEnd(9)} ${g.storageClass.padEnd(20)} ${String(g.objects).padStart(6)} objects ${mb(g.bytes).padStart(14)} B`,
    );
  const a = summary.archive;
  if (a.segments > 0) {
    const ratio = a.storedBytes > 0 ? (a.uncompressedBytes / a.storedBytes).toFixed(2) : '-';
    const codecs = Object.entries(a.codecs)
      .map(([c, n]) => `${c} ${n}`)
      .join(', ');
    lines.push(
      `  WAL archive   ${a.segments} segments, ${mb(a.storedBytes)} B stored, ${mb(a.uncompressedBytes)} B uncompressed (${ratio}x; ${codecs})`,
    );
  }
  return lines;
}

/** `state.base 12,345 B (zstd, 45,678 B uncompressed, in batch-0.bin)` for each file of a manifest. */
export function describeFiles(manifest: CheckpointManifest): string {
  return manifest.files
    .map((f) => {
      const details = [
        f.codec,
        f.uncompressedBytes === undefined
          ? undefined
          : `${f.uncompressedBytes.toLocaleString('en-US')} B uncompressed`,
        f.object === undefined ? undefined : `in ${f.object}`,
      ].filter((x) => x !== undefined);
      return `${f.name} ${f.sizeBytes.toLocaleString('en-US')} B${details.length > 0 ? ` (${details.join(', ')})` : ''}`;
    })
    .join(', ');
}
