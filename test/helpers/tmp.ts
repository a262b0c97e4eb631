import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after } from 'node:test';

/** A fresh temporary directory, removed when the test file ends. */
export function tmpDir(label: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `tidemark-${label}-`));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Deterministic payload of the record with LSN `lsn` (length 1..200 bytes). */
export function payloadFor(lsn: number): Buffer {
  const len = 1 + ((lsn * 2654435761) % 200);
  const buf = Buffer.alloc(len);
  for (let i = 0; i < len; i++) buf[i] = (lsn * 31 + i * 7) & 0xff;
  return buf;
}
