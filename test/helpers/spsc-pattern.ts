// The deterministic entries of the cross-thread SPSC test: 1,024 keys, values of 0..299 bytes,
// and the CRC32C of each (key, value) Put payload, computed once from the pattern.
import { crc32c } from '../../src/format/index.ts';

const keys = Array.from({ length: 1024 }, (_, i) => `key:${i}:${'x'.repeat(i % 24)}`);
const values = Array.from({ length: 300 }, (_, len) => {
  const b = Buffer.alloc(len);
  for (let i = 0; i < len; i++) b[i] = (len * 13 + i * 7) & 0xff;
  return b;
});
export const spscKey = (seq: number): string => keys[seq & 1023]!;
export const spscValue = (seq: number): Buffer => values[(Math.imul(seq, 0x9e3779b1) >>> 0) % 300]!;

const crcs = new Int32Array(1024 * 300);
const known = new Uint8Array(1024 * 300);
/** CRC32C of the Put payload (u32 key length, key, value) of entry `seq`. */
export function spscPayloadCrc(seq: number): number {
  const k = seq & 1023;
  const v = (Math.imul(seq, 0x9e3779b1) >>> 0) % 300;
  const i = k * 300 + v;
  if (!known[i]) {
    const key = Buffer.from(keys[k]!);
    const payload = Buffer.concat([Buffer.alloc(4), key, values[v]!]);
    payload.writeUInt32LE(key.length, 0);
    crcs[i] = crc32c(payload);
    known[i] = 1;
  }
  return crcs[i]! >>> 0;
}
