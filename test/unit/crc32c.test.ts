import assert from 'node:assert/strict';
import { test } from 'node:test';
import { crc32c, crc32cJs, NATIVE_THRESHOLD_BYTES } from '../../src/format/crc32c.ts';

test('CRC-32C of "123456789" is the check value 0xE3069283 in both implementations', () => {
  const data = Buffer.from('123456789');
  assert.equal(crc32cJs(data), 0xe3069283);
  assert.equal(crc32c(data), 0xe3069283);
});

test('the JS and native paths agree on every length around the threshold and on sub-ranges', () => {
  const data = Buffer.alloc(NATIVE_THRESHOLD_BYTES * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 131 + 7) & 0xff;
  for (let len = 0; len < data.length; len += 13) {
    assert.equal(
      crc32c(data, 5, 5 + Math.min(len, data.length - 5)),
      crc32cJs(data, 5, 5 + Math.min(len, data.length - 5)),
    );
  }
  const whole = crc32c(data);
  assert.equal(crc32c(data, 100, data.length, crc32c(data, 0, 100)), whole);
});
