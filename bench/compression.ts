/**
 * Codecs of the object store (checkpoint files and the WAL archive) on real data: the WAL and a
 * checkpoint base of `tidemark demo` (the flights data set), each compressed with lz4, zstd-3,
 * zstd-19 and the built-in fallback (brotli; deflate for comparison). Reports the ratio
 * (uncompressed / stored) and the compression and decompression speed in MB/s of uncompressed
 * bytes, warm codec (one untimed round first), median of ROUNDS.
 *
 * Lines (`--json`):
 *   archive_compression_ratio     WAL, default object codec (zstd-3); target >= 4
 *   checkpoint_compression_ratio  state.base, default object codec
 *   archive_compression_ratio_without_wal_pack   the same without the WAL transform
 *   decompress_mb_per_s           WAL bytes, default object codec, warm; target >= 500
 *   archive_decode_mb_per_s / archive_encode_mb_per_s   whole archived-segment path (codec + wal-pack)
 *   puts_per_small_checkpoint     PUTs of a delta checkpoint of 1,000 changed keys over 8 operators
 *                                 on a file:// object store (every object it created: data objects
 *                                 and the manifest; no pointer is rewritten); target <= 2
 *   puts_per_small_checkpoint_data   the data objects among them (CheckpointBatcher)
 *   and one `<codec>_<what>_…` line per codec and input.
 *
 *   npm run bench -- --only compression
 *   TIDEMARK_BENCH_ROWS=300000 (rows of the demo run; default 300,000), TIDEMARK_BENCH_ROUNDS=5
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  Codecs,
  DEFAULT_OBJECT_COMPRESSION,
  decodeObject,
  encodeObject,
  RecoveryManager,
  type ResolvedCompression,
} from '../dist/index.js';

const json = process.argv.includes('--json');
const QUICK = process.env.TIDEMARK_BENCH_QUICK === '1';
const ROWS = Number(process.env.TIDEMARK_BENCH_ROWS ?? (QUICK ? 50_000 : 300_000));
const ROUNDS = Number(process.env.TIDEMARK_BENCH_ROUNDS ?? (QUICK ? 1 : 5));
const repo = fileURLToPath(new URL('..', import.meta.url));
const root = fs.mkdtempSync(path.join(process.env.TIDEMARK_BENCH_DIR ?? os.tmpdir(), 'tidemark-bench-zip-'));

function report(name: string, value: number, unit: string): void {
  if (json) console.log(JSON.stringify({ name, value, unit }));
  else console.log(`${name.padEnd(40)} ${value.toFixed(unit === 'x' ? 2 : 0).padStart(10)} ${unit}`);
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const CODECS: [string, ResolvedCompression][] = [
  ['lz4', { codec: 'lz4', level: 0 }],
  ['zstd3', { codec: 'zstd', level: 3 }],
  ['zstd19', { codec: 'zstd', level: 19 }],
  ['brotli5', { codec: 'brotli', level: 5 }],
  ['deflate6', { codec: 'deflate', level: 6 }],
];

async function measure(codecs: Codecs, input: Buffer, c: ResolvedCompression, walSegment = false) {
  await decodeObject((await encodeObject(input, c, { codecs, walSegment })).bytes, 'warm', codecs); // warm: packages loaded, pools started
  const enc: number[] = [];
  const dec: number[] = [];
  let stored = 0;
  for (let r = 0; r < ROUNDS; r++) {
    let t = performance.now();
    const frame = (await encodeObject(input, c, { codecs, walSegment })).bytes;
    enc.push(performance.now() - t);
    stored = frame.length;
    t = performance.now();
    const out = await decodeObject(frame, 'bench', codecs);
    dec.push(performance.now() - t);
    if (out.length !== input.length) throw new Error('round trip changed the length');
  }
  const mb = input.length / 1e6;
  return {
    ratio: input.length / stored,
    compressMbs: mb / (median(enc) / 1e3),
    decompressMbs: mb / (median(dec) / 1e3),
  };
}

async function main(): Promise<void> {
  const dir = path.join(root, 'demo');
  const demo = spawnSync(
    process.execPath,
    [
      path.join(repo, 'bin/tidemark.js'),
      'demo',
      '--limit',
      String(ROWS),
      '--crashes',
      '0',
      '--dir',
      dir,
      '--checkpoint-every',
      String(Math.floor(ROWS / 2)),
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  if (demo.status !== 0) throw new Error(`tidemark demo failed (${demo.status})`);
  const walDir = path.join(dir, 'wal');
  const wal = Buffer.concat(
    fs
      .readdirSync(walDir)
      .filter((n) => n.endsWith('.log'))
      .sort()
      .map((n) => fs.readFileSync(path.join(walDir, n))),
  );
  const ckptDir = path.join(dir, 'checkpoints');
  const base = fs
    .readdirSync(ckptDir)
    .filter((n) => n.startsWith('checkpoint-'))
    .map((n) => path.join(ckptDir, n, 'state.base'))
    .filter((p) => fs.existsSync(p))
    .at(-1);
  if (base === undefined) throw new Error('the demo wrote no checkpoint base');
  const checkpoint = fs.readFileSync(base);
  if (!json)
    console.log(`WAL ${wal.length} bytes, checkpoint base ${checkpoint.length} bytes, ${ROUNDS} rounds`);
  const codecs = new Codecs();
  for (const [name, c] of CODECS) {
    const w = await measure(codecs, wal, c, true);
    report(`${name}_wal_ratio`, w.ratio, 'x');
    report(`${name}_wal_compress_mb_per_s`, w.compressMbs, 'MB/s');
    report(`${name}_wal_decompress_mb_per_s`, w.decompressMbs, 'MB/s');
    const k = await measure(codecs, checkpoint, c);
    report(`${name}_checkpoint_ratio`, k.ratio, 'x');
    report(`${name}_checkpoint_compress_mb_per_s`, k.compressMbs, 'MB/s');
  }
  const w = await measure(codecs, wal, DEFAULT_OBJECT_COMPRESSION, true);
  const plain = await measure(codecs, wal, DEFAULT_OBJECT_COMPRESSION, false);
  const k = await measure(codecs, checkpoint, DEFAULT_OBJECT_COMPRESSION);
  report('archive_compression_ratio', w.ratio, 'x');
  report('archive_compression_ratio_without_wal_pack', plain.ratio, 'x');
  report('checkpoint_compression_ratio', k.ratio, 'x');
  // The codec itself (zstd 3 on the WAL's bytes), then what restoring an archived segment costs
  // (zstd + undoing wal-pack: record CRC32Cs recomputed).
  report('decompress_mb_per_s', plain.decompressMbs, 'MB/s');
  report('archive_decode_mb_per_s', w.decompressMbs, 'MB/s');
  report('archive_encode_mb_per_s', w.compressMbs, 'MB/s');
  const puts = await smallCheckpointPuts();
  report('puts_per_small_checkpoint', puts.total, 'PUTs');
  report('puts_per_small_checkpoint_data', puts.data, 'PUTs');
}

/** Every object file under `dir` with its modification time: what a checkpoint wrote is the difference. */
function objectFiles(dir: string): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const e of fs.readdirSync(dir, { recursive: true, withFileTypes: true }))
    if (e.isFile())
      out.set(
        path.join(e.parentPath, e.name),
        fs.statSync(path.join(e.parentPath, e.name), { bigint: true }).mtimeNs,
      );
  return out;
}

/**
 * PUTs of a small checkpoint through the public API: a data directory on a `file://` object
 * store (one object file per PUT), a base of 20,000 keys, then 1,000 keys changed over 8
 * operators (with 4 KiB of operator state each) and a delta checkpoint; counts the objects it
 * created or rewrote under `checkpoints/`.
 */
async function smallCheckpointPuts(): Promise<{ total: number; data: number }> {
  const storeDir = path.join(root, 'puts-store');
  const s = await new RecoveryManager({
    dir: path.join(root, 'puts-data'),
    objectStore: pathToFileURL(storeDir).href,
    archiveIntervalMs: 0,
  }).open();
  try {
    for (let i = 0; i < 20_000; i++) s.store.put(`op${i % 8}/key-${i}`, Buffer.alloc(32, i % 251));
    await s.checkpoint();
    for (let i = 0; i < 1000; i++)
      s.store.put(`op${(i * 13) % 8}/key-${i * 13}`, Buffer.alloc(32, (i + 7) % 251));
    const operators: Record<string, Uint8Array> = {};
    for (let o = 0; o < 8; o++) operators[`op${o}`] = Buffer.alloc(4096, o);
    const before = objectFiles(path.join(storeDir, 'checkpoints'));
    const delta = await s.checkpoint({ operators });
    if (delta.kind !== 'delta') throw new Error('expected a delta checkpoint');
    const after = objectFiles(path.join(storeDir, 'checkpoints'));
    const written = [...after].filter(([k, t]) => before.get(k) !== t).map(([k]) => k);
    return { total: written.length, data: written.filter((k) => !k.endsWith('manifest.json')).length };
  } finally {
    await s.close();
  }
}

try {
  await main();
} finally {
  fs.rmSync(root, { recursive: true, force: true });
}
