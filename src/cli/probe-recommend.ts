/**
 * From the measurements of `tidemark probe` to WAL settings (`WalOptions`), each with the one
 * line of reasoning that chose it. Pure: numbers in, recommendation out.
 */

/** Durable writes per second of the measured cases the recommendation reads, per sync method. */
export interface ProbeRates {
  /** `writes/s` of 4 KiB, 64 KiB and 1 MiB writes, keyed by size in bytes. */
  sizes: ReadonlyMap<number, number>;
  /** 1 KiB commits/s appending to a growing file. */
  commitAppend: number;
  /** 1 KiB commits/s into a zero-filled, fdatasynced file. */
  commitPrealloc: number;
}

/** What `tidemark probe` recommends, with a reason per setting. */
export interface ProbeRecommendation {
  /** `WalOptions.syncMethod`. */
  syncMethod: 'o_dsync' | 'fdatasync';
  /** `WalOptions.groupCommitBytes`, in bytes. */
  groupCommitBytes: number;
  /** `WalOptions.preallocateSegments`. */
  preallocateSegments: boolean;
  /** Whether batching commits into groups raises durable throughput on this disk. */
  groupCommitHelps: boolean;
  /** One line of reasoning per field above. */
  reasons: {
    syncMethod: string;
    groupCommitBytes: string;
    preallocateSegments: string;
    groupCommitHelps: string;
  };
}

const KiB = 1024;
const MiB = 1024 * 1024;
/** O_DSYNC is kept unless it is clearly slower: in the WAL it saves a thread-pool hop per group. */
const O_DSYNC_TOLERANCE = 0.9;
/** A zero-filled file must beat appending by this much to be worth its background writes. */
const PREALLOC_GAIN = 1.1;
/** Group commit "helps" when 1 MiB groups move at least this many times the bytes/s of 4 KiB ones. */
const GROUP_GAIN = 2;
/** Smallest group size recommended: below it every sync carries too little. */
const MIN_GROUP = 16 * KiB;

/** `bytes` as `4 KiB` / `1 MiB`. */
export function formatBytes(bytes: number): string {
  return bytes >= MiB && bytes % MiB === 0 ? `${bytes / MiB} MiB` : `${Math.round(bytes / KiB)} KiB`;
}

function fmt(n: number): string {
  return n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toPrecision(3);
}

/**
 * Chooses the WAL settings. `rates` holds the fdatasync figures and, when O_DSYNC could be
 * measured, the O_DSYNC ones; all rates are positive.
 */
export function recommendWalSettings(rates: {
  fdatasync: ProbeRates;
  oDsync: ProbeRates | undefined;
}): ProbeRecommendation {
  const { fdatasync, oDsync } = rates;
  const best = (r: ProbeRates) => Math.max(r.commitAppend, r.commitPrealloc);

  let syncMethod: ProbeRecommendation['syncMethod'];
  let syncReason: string;
  if (oDsync === undefined) {
    syncMethod = 'fdatasync';
    syncReason = 'this platform has no O_DSYNC, so each group is written and then fdatasynced';
  } else {
    const ratio = best(oDsync) / best(fdatasync);
    syncMethod = ratio >= O_DSYNC_TOLERANCE ? 'o_dsync' : 'fdatasync';
    syncReason =
      syncMethod === 'o_dsync'
        ? `O_DSYNC writes made ${fmt(best(oDsync))} durable 1 KiB commits/s vs ${fmt(best(fdatasync))} with write+fdatasync (×${ratio.toFixed(2)}), and in the WAL they save one thread-pool hop per group`
        : `write+fdatasync made ${fmt(best(fdatasync))} durable 1 KiB commits/s vs ${fmt(best(oDsync))} with O_DSYNC writes (×${(1 / ratio).toFixed(2)})`;
  }
  const chosen = syncMethod === 'o_dsync' && oDsync ? oDsync : fdatasync;

  const preallocRatio = chosen.commitPrealloc / chosen.commitAppend;
  const preallocateSegments = preallocRatio >= PREALLOC_GAIN;
  const preallocReason = preallocateSegments
    ? `1 KiB commits into a zero-filled file ran ×${preallocRatio.toFixed(2)} the rate of appending (${fmt(chosen.commitPrealloc)} vs ${fmt(chosen.commitAppend)}/s): the sync no longer persists a size change`
    : `1 KiB commits into a zero-filled file ran ×${preallocRatio.toFixed(2)} the rate of appending (${fmt(chosen.commitPrealloc)} vs ${fmt(chosen.commitAppend)}/s): not worth writing each segment twice`;

  const group = chooseGroupBytes(chosen.sizes);
  return {
    syncMethod,
    groupCommitBytes: group.bytes,
    preallocateSegments,
    groupCommitHelps: group.helps,
    reasons: {
      syncMethod: syncReason,
      groupCommitBytes: group.bytesReason,
      preallocateSegments: preallocReason,
      groupCommitHelps: group.helpsReason,
    },
  };
}

/**
 * Models a durable write of S bytes as a fixed cost plus S at the disk's bandwidth
 * (least squares over the measured sizes). Groups pay off up to the size at which the transfer
 * costs as much as the fixed part (then a group costs at most twice a tiny write); past it,
 * bigger groups only add latency.
 */
function chooseGroupBytes(sizes: ReadonlyMap<number, number>): {
  bytes: number;
  bytesReason: string;
  helps: boolean;
  helpsReason: string;
} {
  const points = [...sizes].map(([bytes, rate]) => ({ bytes, ms: 1000 / rate }));
  points.sort((a, b) => a.bytes - b.bytes);
  const small = points[0]!;
  const large = points[points.length - 1]!;
  // Nothing past the largest measured write is recommended: it was not measured.
  const maxGroup = large.bytes;
  const gain = large.bytes / large.ms / (small.bytes / small.ms);
  const helps = gain >= GROUP_GAIN;
  const costRatio = large.ms / small.ms;
  const helpsReason = helps
    ? `a ${formatBytes(large.bytes)} durable write took ${fmt(large.ms)} ms vs ${fmt(small.ms)} ms for ${formatBytes(small.bytes)} (×${costRatio.toFixed(1)} the time for ×${large.bytes / small.bytes} the bytes): commits sharing one sync move ×${gain.toFixed(0)} the bytes/s`
    : `a ${formatBytes(large.bytes)} durable write took ${fmt(large.ms)} ms vs ${fmt(small.ms)} ms for ${formatBytes(small.bytes)}: the disk is bandwidth-bound, so grouping commits gains little`;

  const n = points.length;
  const mx = points.reduce((s, p) => s + p.bytes, 0) / n;
  const my = points.reduce((s, p) => s + p.ms, 0) / n;
  const sxx = points.reduce((s, p) => s + (p.bytes - mx) ** 2, 0);
  const sxy = points.reduce((s, p) => s + (p.bytes - mx) * (p.ms - my), 0);
  const slope = sxy / sxx; // ms per byte
  const fixed = my - slope * mx; // ms
  if (!(slope > 0) || !(fixed > 0)) {
    const bytes = slope > 0 ? MIN_GROUP : maxGroup;
    return {
      bytes,
      bytesReason:
        slope > 0
          ? `durable writes cost in proportion to their size here (no fixed sync cost measured): small groups keep commit latency low`
          : `a ${formatBytes(large.bytes)} durable write cost no more than a ${formatBytes(small.bytes)} one (${fmt(large.ms)} vs ${fmt(small.ms)} ms): larger groups are free`,
      helps,
      helpsReason,
    };
  }
  const knee = fixed / slope; // bytes whose transfer costs as much as the fixed part
  let bytes = MIN_GROUP;
  while (bytes * 2 <= Math.min(knee, maxGroup)) bytes *= 2;
  const mibPerS = 1000 / slope / MiB;
  const bytesReason = `a durable write cost ≈ ${fmt(fixed)} ms + its size at ${fmt(mibPerS)} MiB/s: a ${formatBytes(bytes)} group costs ${((fixed + slope * bytes) / fixed).toFixed(2)}× the fixed sync${knee > maxGroup ? ` (${formatBytes(maxGroup)} is the largest size measured)` : `; past ${formatBytes(Math.round(knee / KiB) * KiB)} the transfer dominates`}`;
  return { bytes, bytesReason, helps, helpsReason };
}
