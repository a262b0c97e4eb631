import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { runVerify } from '../../src/cli/verify.js';
import { RecoveryManager } from '../../src/index.js';
import { tmpDir } from '../helpers/tmp.js';

async function verifyLines(dir: string): Promise<{ code: number; lines: string[] }> {
  const lines: string[] = [];
  const code = await runVerify({ dir, store: undefined, json: false }, (l) => lines.push(l));
  return { code, lines };
}

test('verify counts in the singular for one (not "1 WAL segments", "1 checkpoints")', async () => {
  const dir = tmpDir('verify-one');
  const opened = await new RecoveryManager({ dir }).open();
  opened.store.put('a', new Uint8Array([1]));
  await opened.store.durable();
  await opened.checkpoint();
  await opened.close();
  const { code, lines } = await verifyLines(dir);
  assert.equal(code, 0, lines.join('\n'));
  assert.match(lines[0]!, / 1 WAL segment \(/);
  assert.match(lines[0]!, / 1 checkpoint \(1 valid\)/);
  assert.equal(lines.at(-1), 'OK: no damage found');
});

test('verify names a damaged file once per problem line, with its offset, not the path twice', async () => {
  const dir = tmpDir('verify-damage');
  const opened = await new RecoveryManager({ dir, wal: { segmentSizeBytes: 4096 } }).open();
  for (let i = 0; i < 200; i++) opened.store.put(`k${i}`, new Uint8Array(40));
  await opened.store.durable();
  await opened.close();
  const walDir = path.join(dir, 'wal');
  const segments = fs
    .readdirSync(walDir)
    .filter((n) => n.endsWith('.log'))
    .sort();
  assert.ok(segments.length > 2);
  const first = path.join(walDir, segments[0]!);
  const bytes = fs.readFileSync(first);
  bytes[200]! ^= 0xff; // inside a record of a sealed segment
  fs.writeFileSync(first, bytes);
  const { code, lines } = await verifyLines(dir);
  assert.equal(code, 1);
  const problem = lines.find((l) => l.startsWith('TIDEMARK_CORRUPTION'));
  assert.ok(problem, lines.join('\n'));
  assert.equal(problem.split(first).length - 1, 1, `the path once: ${problem}`);
  assert.match(
    problem,
    new RegExp(`^TIDEMARK_CORRUPTION ${first.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} at byte \\d+: `),
  );
  assert.equal(lines.at(-1), 'DAMAGED: 1 problem');
  assert.match(lines[0]!, /: \d+ WAL segments \(/);
  assert.match(lines[0]!, / 0 checkpoints \(0 valid\)/);
});
