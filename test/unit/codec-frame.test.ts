/**
 * The compressed-object frame and its codecs: every codec round-trips, and a damaged frame is
 * `TIDEMARK_CORRUPTION` naming the object and offset — never garbage; a missing codec package
 * is `TIDEMARK_MISSING_DEPENDENCY` on read and a built-in fallback (one warning) on write.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { isTidemarkError } from '../../src/errors.ts';
import {
  CODEC_FRAME_HEADER_SIZE,
  CODEC_FRAME_VERSION,
  decodeCodecFrame,
  decodeObject,
  encodeCodecFrame,
  encodeObject,
} from '../../src/format/codec.ts';
import { crc32c } from '../../src/format/crc32c.ts';
import { CODEC_FALLBACK_WARNING, Codecs, FALLBACK_CODEC, resolveCompression } from '../../src/io/codecs.ts';

/** Compressible, WAL-like bytes: repeated keys with changing numbers. */
function sample(n = 64 * 1024): Buffer {
  const parts: string[] = [];
  for (let i = 0; parts.join('').length < n; i++) parts.push(`o:AIRPORT${i % 37}:${(i * 7919) % 1000};`);
  return Buffer.from(parts.join('').slice(0, n));
}

const missing = (name: string) => () =>
  Promise.reject(
    Object.assign(new Error(`Cannot find package '${name}' imported from x`), {
      code: 'ERR_MODULE_NOT_FOUND',
    }),
  );

function rejectsWith(code: string) {
  return (err: unknown) => {
    assert.ok(isTidemarkError(err), String(err));
    assert.equal(err.code, code, err.message);
    return true;
  };
}

for (const codec of ['none', 'lz4', 'zstd', 'brotli', 'deflate'] as const) {
  test(`a ${codec} frame decodes to exactly the bytes that were encoded`, async () => {
    const input = sample();
    const enc = await encodeObject(input, resolveCompression('c', codec, { codec: 'none', level: 0 }));
    assert.equal(enc.codec, codec);
    if (codec !== 'none') assert.ok(enc.bytes.length < input.length / 2, `${codec} should compress`);
    assert.deepEqual(Buffer.from(await decodeObject(enc.bytes, 'obj')), input);
  });
}

test('an empty object round-trips through a frame', async () => {
  const enc = await encodeObject(new Uint8Array(0), { codec: 'zstd', level: 3 });
  assert.equal((await decodeObject(enc.bytes, 'obj')).length, 0);
});

test('unframed bytes (written before compression) are returned unchanged', async () => {
  const raw = Buffer.from('TMWL then a WAL segment');
  assert.equal(await decodeObject(raw, 'obj'), raw);
});

test('a flipped byte anywhere in a compressed frame is TIDEMARK_CORRUPTION, never garbage', async () => {
  const enc = await encodeObject(sample(), { codec: 'zstd', level: 3 });
  for (const at of [
    0,
    5,
    9,
    17,
    21,
    CODEC_FRAME_HEADER_SIZE,
    CODEC_FRAME_HEADER_SIZE + 100,
    enc.bytes.length - 1,
  ]) {
    const bad = Buffer.from(enc.bytes);
    bad[at]! ^= 0x10;
    if (at < 4) {
      // A damaged magic makes the bytes look unframed: the object's own CRC32C (manifest,
      // metadata) catches that one; the frame must at least never decode into other bytes.
      const out = await decodeObject(bad, 's3://b/obj');
      assert.deepEqual(Buffer.from(out), bad);
      continue;
    }
    await assert.rejects(decodeObject(bad, 's3://b/obj'), (err: unknown) => {
      assert.ok(isTidemarkError(err, 'TIDEMARK_CORRUPTION'), String(err));
      assert.equal(err.path, 's3://b/obj');
      assert.equal(typeof err.offset, 'number');
      return true;
    });
  }
});

test('a frame whose payload decompresses to another length than its header says is TIDEMARK_CORRUPTION', async () => {
  const input = sample();
  const enc = await encodeObject(input, { codec: 'lz4', level: 0 });
  const payload = enc.bytes.subarray(CODEC_FRAME_HEADER_SIZE);
  // A well-formed frame (both CRCs valid) that lies about the length by one byte.
  const lying = encodeCodecFrame({ codec: 'lz4', uncompressedLength: input.length + 1 }, payload);
  await assert.rejects(decodeObject(lying, 'obj'), rejectsWith('TIDEMARK_CORRUPTION'));
  const short = encodeCodecFrame(
    { codec: 'brotli', uncompressedLength: 10 },
    (await encodeObject(input, { codec: 'brotli', level: 5 })).bytes.subarray(CODEC_FRAME_HEADER_SIZE),
  );
  await assert.rejects(decodeObject(short, 'obj'), rejectsWith('TIDEMARK_CORRUPTION'));
});

test('a frame truncated inside its payload is TIDEMARK_CORRUPTION', async () => {
  const enc = await encodeObject(sample(), { codec: 'zstd', level: 3 });
  await assert.rejects(
    decodeObject(enc.bytes.subarray(0, enc.bytes.length - 7), 'obj'),
    rejectsWith('TIDEMARK_CORRUPTION'),
  );
  await assert.rejects(decodeObject(enc.bytes.subarray(0, 12), 'obj'), rejectsWith('TIDEMARK_CORRUPTION'));
});

test('a frame of a newer version is TIDEMARK_UNSUPPORTED_VERSION', () => {
  const frame = encodeCodecFrame({ codec: 'none', uncompressedLength: 3 }, Buffer.from('abc'));
  frame[4] = CODEC_FRAME_VERSION + 1;
  frame.writeUInt32LE(crc32c(frame, 0, 20), 20);
  assert.throws(() => decodeCodecFrame(frame, 'obj'), rejectsWith('TIDEMARK_UNSUPPORTED_VERSION'));
});

test('an unknown codec id is TIDEMARK_CORRUPTION at the codec byte', () => {
  const frame = encodeCodecFrame({ codec: 'none', uncompressedLength: 3 }, Buffer.from('abc'));
  frame[5] = 200;
  frame.writeUInt32LE(crc32c(frame, 0, 20), 20);
  assert.throws(
    () => decodeCodecFrame(frame, 'obj'),
    (err: unknown) => isTidemarkError(err, 'TIDEMARK_CORRUPTION') && err.offset === 5,
  );
});

test('reading a zstd object without zstd-napi installed is TIDEMARK_MISSING_DEPENDENCY naming the package', async () => {
  const frame = (await encodeObject(sample(), { codec: 'zstd', level: 3 })).bytes;
  const without = new Codecs({ loaders: { zstd: missing('zstd-napi') } });
  await assert.rejects(decodeObject(frame, 'obj', without), (err: unknown) => {
    assert.ok(isTidemarkError(err, 'TIDEMARK_MISSING_DEPENDENCY'), String(err));
    assert.match(err.message, /zstd-napi/);
    assert.match(err.message, /npm install zstd-napi/);
    return true;
  });
});

test('writing with a missing codec package falls back to the built-in codec with one warning', async () => {
  const warnings: Error[] = [];
  const onWarning = (w: Error) => {
    if ((w as { code?: string }).code === CODEC_FALLBACK_WARNING) warnings.push(w);
  };
  process.on('warning', onWarning);
  try {
    const without = new Codecs({ loaders: { lz4: missing('lz4-napi') } });
    const input = sample();
    const a = await encodeObject(input, { codec: 'lz4', level: 0 }, { codecs: without });
    const b = await encodeObject(input, { codec: 'lz4', level: 0 }, { codecs: without });
    assert.equal(a.codec, FALLBACK_CODEC);
    assert.equal(b.codec, FALLBACK_CODEC);
    // Readable by anyone: the fallback is built into Node.
    assert.deepEqual(Buffer.from(await decodeObject(a.bytes, 'obj')), input);
    await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!.message, /lz4-napi/);
  } finally {
    process.off('warning', onWarning);
  }
});

test('incompressible bytes are stored as codec none, not grown', async () => {
  const input = randomBytes(8192);
  const enc = await encodeObject(input, { codec: 'zstd', level: 3 });
  assert.equal(enc.codec, 'none');
  assert.equal(enc.bytes.length, input.length + CODEC_FRAME_HEADER_SIZE);
});

test('bad compression options are TIDEMARK_INVALID_ARGUMENT', () => {
  const dflt = { codec: 'none', level: 0 } as const;
  assert.throws(
    () => resolveCompression('compression', 'gzip' as never, dflt),
    rejectsWith('TIDEMARK_INVALID_ARGUMENT'),
  );
  assert.throws(
    () => resolveCompression('compression', { codec: 'zstd', level: 23 }, dflt),
    rejectsWith('TIDEMARK_INVALID_ARGUMENT'),
  );
  assert.deepEqual(resolveCompression('compression', 'zstd', dflt), { codec: 'zstd', level: 3 });
  assert.deepEqual(resolveCompression('compression', false, dflt), { codec: 'none', level: 0 });
});
