// Arguments of the API fuzzer: fast-check arbitraries of small, printable descriptors (so a
// counterexample reads as `{ key: 'lone-high', value: 'dataview' }`), turned into real arguments
// at run time, and the oracle saying what each call must do with them.
import fc from 'fast-check';

// ── keys ─────────────────────────────────────────────────────────────────────────────────────

export type KeyDesc =
  | { pool: number }
  | 'empty'
  | 'unicode'
  | 'emoji'
  | 'proto'
  | 'lone-high'
  | 'lone-low'
  | 'number'
  | 'undefined'
  | 'null'
  | 'max'
  | 'oversized';

export const keyArb: fc.Arbitrary<KeyDesc> = fc.oneof(
  { weight: 12, arbitrary: fc.record({ pool: fc.nat(5) }) },
  {
    weight: 4,
    arbitrary: fc.constantFrom<KeyDesc>('empty', 'unicode', 'emoji', 'proto'),
  },
  {
    weight: 3,
    arbitrary: fc.constantFrom<KeyDesc>('lone-high', 'lone-low', 'number', 'undefined', 'null'),
  },
  { weight: 1, arbitrary: fc.constantFrom<KeyDesc>('max', 'oversized') },
);

const MAX_KEY = 'k'.repeat(64 * 1024);
const OVERSIZED_KEY = 'k'.repeat(64 * 1024 + 1);

export function makeKey(d: KeyDesc): unknown {
  if (typeof d === 'object') return `key${d.pool}`;
  switch (d) {
    case 'empty':
      return '';
    case 'unicode':
      return 'ключ-é';
    case 'emoji':
      return '🔑\u{1F600}';
    case 'proto':
      return '__proto__';
    case 'lone-high':
      return 'a\ud800';
    case 'lone-low':
      return '\udfffz';
    case 'number':
      return 42;
    case 'undefined':
      return undefined;
    case 'null':
      return null;
    case 'max':
      return MAX_KEY;
    case 'oversized':
      return OVERSIZED_KEY;
  }
}

// ── values ───────────────────────────────────────────────────────────────────────────────────

export type ValueDesc =
  | { bytes: number; fill: number }
  | { slice: number; at: number }
  | 'empty'
  | 'shared'
  | 'medium'
  | 'dataview'
  | 'float64'
  | 'string'
  | 'number'
  | 'null'
  | 'undefined'
  | 'oversized';

export const valueArb: fc.Arbitrary<ValueDesc> = fc.oneof(
  { weight: 12, arbitrary: fc.record({ bytes: fc.nat(40), fill: fc.nat(255) }) },
  { weight: 4, arbitrary: fc.record({ slice: fc.nat(64), at: fc.nat(400) }) },
  { weight: 2, arbitrary: fc.constantFrom<ValueDesc>('empty', 'shared', 'medium') },
  {
    weight: 3,
    arbitrary: fc.constantFrom<ValueDesc>('dataview', 'float64', 'string', 'number', 'null', 'undefined'),
  },
  { weight: 1, arbitrary: fc.constant<ValueDesc>('oversized') },
);

/** One big buffer that every `slice` value is a view of (offset ≠ 0 in its ArrayBuffer). */
const BIG = Buffer.alloc(512, 0);
for (let i = 0; i < BIG.length; i++) BIG[i] = (i * 37 + 11) & 0xff;
let oversized: Buffer | undefined;

export function makeValue(d: ValueDesc): unknown {
  if (typeof d === 'object') {
    if ('bytes' in d)
      return d.fill % 2 === 0 ? Buffer.alloc(d.bytes, d.fill) : new Uint8Array(d.bytes).fill(d.fill);
    return BIG.subarray(d.at, d.at + d.slice);
  }
  switch (d) {
    case 'empty':
      return new Uint8Array(0);
    case 'shared': {
      const u = new Uint8Array(new SharedArrayBuffer(16));
      u.fill(7);
      return u;
    }
    case 'medium':
      return Buffer.alloc(2000, 3);
    case 'dataview':
      return new DataView(new ArrayBuffer(8));
    case 'float64':
      return new Float64Array([1.5, 2.5]);
    case 'string':
      return 'hello';
    case 'number':
      return 7;
    case 'null':
      return null;
    case 'undefined':
      return undefined;
    case 'oversized':
      oversized ??= Buffer.alloc(16 * 1024 * 1024 + 1, 1);
      return oversized;
  }
}

// ── commit arguments ─────────────────────────────────────────────────────────────────────────

export type OffsetsDesc =
  | { entries: [string, OffsetValueDesc][] }
  | 'many'
  | 'wide'
  | 'long-name'
  | 'null'
  | 'undefined'
  | 'array'
  | 'number'
  | 'string';
export type OffsetValueDesc = number | 'nan' | 'string' | 'infinity' | 'unsafe' | 'undefined';

const SOURCE_NAMES = ['src', 'kafka:0', 'kafka:1', '', 'é', '__proto__', 'constructor', 'bad\ud800'];

export const offsetsArb: fc.Arbitrary<OffsetsDesc> = fc.oneof(
  {
    weight: 10,
    arbitrary: fc.record({
      entries: fc.array(
        fc.tuple(
          fc.constantFrom(...SOURCE_NAMES),
          fc.oneof(
            { weight: 8, arbitrary: fc.nat(1_000_000) },
            { weight: 1, arbitrary: fc.constantFrom<OffsetValueDesc>(Number.MAX_SAFE_INTEGER, -1, 1.5) },
            {
              weight: 1,
              arbitrary: fc.constantFrom<OffsetValueDesc>('nan', 'string', 'infinity', 'unsafe', 'undefined'),
            },
          ),
        ),
        { maxLength: 3 },
      ),
    }),
  },
  { weight: 1, arbitrary: fc.constantFrom<OffsetsDesc>('null', 'undefined', 'array', 'number', 'string') },
  { weight: 1, arbitrary: fc.constantFrom<OffsetsDesc>('many', 'wide', 'long-name') },
);

export type WatermarkDesc = number | 'undefined' | 'nan' | 'infinity' | 'fraction' | 'string' | 'null';

export const watermarkArb: fc.Arbitrary<WatermarkDesc> = fc.oneof(
  { weight: 4, arbitrary: fc.constant<WatermarkDesc>('undefined') },
  { weight: 4, arbitrary: fc.integer({ min: -1000, max: 2_000_000_000_000 }) },
  { weight: 1, arbitrary: fc.constantFrom<WatermarkDesc>('nan', 'infinity', 'fraction', 'string', 'null') },
);

function offsetValue(d: OffsetValueDesc): unknown {
  switch (d) {
    case 'nan':
      return Number.NaN;
    case 'string':
      return '3';
    case 'infinity':
      return Number.POSITIVE_INFINITY;
    case 'unsafe':
      return 2 ** 53;
    case 'undefined':
      return undefined;
    default:
      return d;
  }
}

export function makeOffsets(d: OffsetsDesc): unknown {
  if (typeof d === 'object') {
    // Object.fromEntries defines own properties, `__proto__` included.
    return Object.fromEntries(d.entries.map(([name, v]) => [name, offsetValue(v)]));
  }
  const sources = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`s${i}`, i]));
  return {
    many: sources(4097),
    wide: sources(60),
    'long-name': { ['n'.repeat(1025)]: 1 },
    null: null,
    undefined: undefined,
    array: [1, 2],
    number: 5,
    string: 'src',
  }[d];
}

export function makeWatermark(d: WatermarkDesc): unknown {
  if (typeof d === 'number') return d;
  return {
    undefined: undefined,
    nan: Number.NaN,
    infinity: Number.POSITIVE_INFINITY,
    fraction: 1.5,
    string: '7',
    null: null,
  }[d];
}

// ── positions for flushed() ──────────────────────────────────────────────────────────────────

export type PositionDesc =
  | 'last'
  | 'last-commit'
  | { earlier: number }
  | 0
  | 'next'
  | 'far'
  | 'nan'
  | 'undefined'
  | -1
  | 1.5
  | 'infinity'
  | 'string'
  | 'unsafe';

export const positionArb: fc.Arbitrary<PositionDesc> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom<PositionDesc>('last', 'last-commit', 0) },
  { weight: 3, arbitrary: fc.record({ earlier: fc.nat(20) }) },
  {
    weight: 3,
    arbitrary: fc.constantFrom<PositionDesc>(
      'next',
      'far',
      'nan',
      'undefined',
      -1,
      1.5,
      'infinity',
      'string',
      'unsafe',
    ),
  },
);

export function makePosition(d: PositionDesc, last: number, lastCommit: number): unknown {
  if (typeof d === 'object') return Math.max(0, last - d.earlier);
  switch (d) {
    case 'last':
      return last;
    case 'last-commit':
      return lastCommit;
    case 'next':
      return last + 1;
    case 'far':
      return last + 1000;
    case 'nan':
      return Number.NaN;
    case 'undefined':
      return undefined;
    case 'infinity':
      return Number.POSITIVE_INFINITY;
    case 'string':
      return '1';
    case 'unsafe':
      return 2 ** 53;
    default:
      return d;
  }
}

// ── the oracle ───────────────────────────────────────────────────────────────────────────────

/** What a call must do with its arguments: be refused with this code, or be accepted (undefined). */
export type Verdict = 'TIDEMARK_INVALID_ARGUMENT' | 'TIDEMARK_LIMIT' | undefined;

export function keyVerdict(key: unknown, maxPayloadBytes: number, isDelete: boolean): Verdict {
  if (typeof key !== 'string' || !key.isWellFormed()) return 'TIDEMARK_INVALID_ARGUMENT';
  if (Buffer.byteLength(key) > 64 * 1024) return 'TIDEMARK_LIMIT';
  if (isDelete && Buffer.byteLength(key) > maxPayloadBytes) return 'TIDEMARK_LIMIT';
  return undefined;
}

export function putVerdict(key: unknown, value: unknown, maxPayloadBytes: number): Verdict {
  const k = keyVerdict(key, maxPayloadBytes, false);
  if (k) return k;
  if (!(value instanceof Uint8Array)) return 'TIDEMARK_INVALID_ARGUMENT';
  if (4 + Buffer.byteLength(key as string) + value.byteLength > maxPayloadBytes) return 'TIDEMARK_LIMIT';
  return undefined;
}

export function commitVerdict(offsets: unknown, watermark: unknown): Verdict {
  if (offsets === null || typeof offsets !== 'object' || Array.isArray(offsets)) {
    return 'TIDEMARK_INVALID_ARGUMENT';
  }
  if (Object.keys(offsets).length > 4096) return 'TIDEMARK_LIMIT';
  for (const [name, v] of Object.entries(offsets)) {
    if (!name.isWellFormed() || name === '__proto__' || Buffer.byteLength(name) > 1024) {
      return 'TIDEMARK_INVALID_ARGUMENT';
    }
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) return 'TIDEMARK_INVALID_ARGUMENT';
  }
  if (watermark !== undefined && (typeof watermark !== 'number' || !Number.isSafeInteger(watermark))) {
    return 'TIDEMARK_INVALID_ARGUMENT';
  }
  return undefined;
}

export function positionValid(p: unknown, last: number): boolean {
  return typeof p === 'number' && Number.isSafeInteger(p) && p >= 0 && p <= last;
}

// ── checkpoint extras ────────────────────────────────────────────────────────────────────────

export type ExtrasDesc =
  | 'undefined'
  | 'empty'
  | 'operators'
  | 'null'
  | 'number'
  | 'array'
  | 'string-operator'
  | 'negative-sink-epoch'
  | 'nan-watermark';

export const extrasArb: fc.Arbitrary<ExtrasDesc> = fc.oneof(
  { weight: 6, arbitrary: fc.constant<ExtrasDesc>('undefined') },
  { weight: 2, arbitrary: fc.constantFrom<ExtrasDesc>('empty', 'operators') },
  {
    weight: 2,
    arbitrary: fc.constantFrom<ExtrasDesc>(
      'null',
      'number',
      'array',
      'string-operator',
      'negative-sink-epoch',
      'nan-watermark',
    ),
  },
);

export function makeExtras(d: ExtrasDesc): unknown {
  return {
    undefined: undefined,
    empty: {},
    operators: { window: Buffer.from('op-state') },
    null: null,
    number: 5,
    array: [],
    'string-operator': { operators: { window: 'not bytes' } },
    'negative-sink-epoch': { sinkEpochs: { sink: -1 } },
    'nan-watermark': { sourceWatermarks: { src: Number.NaN } },
  }[d];
}

/** Whether a checkpoint with these extras must work or be refused (TIDEMARK_INVALID_ARGUMENT). */
export function extrasVerdict(d: ExtrasDesc): 'refused' | 'accepted' {
  return d === 'undefined' || d === 'empty' || d === 'operators' ? 'accepted' : 'refused';
}
