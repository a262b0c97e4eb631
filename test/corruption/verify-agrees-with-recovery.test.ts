import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { checkpointName } from '../../src/checkpoint/index.ts';
import { runVerify } from '../../src/cli/verify.ts';
import { encodeManifest } from '../../src/format/checkpoint-manifest.ts';
import { RecoveryManager } from '../../src/recovery/index.ts';
import { segmentFileName } from '../../src/wal/segment-name.ts';
import { buildCheckpointedDir, type CheckpointedDir } from '../helpers/checkpointed-dir.ts';
import { tmpDir } from '../helpers/tmp.ts';

const flipByte = (file: string, at: (length: number) => number) => {
  const bytes = fs.readFileSync(file);
  bytes[at(bytes.length)]! ^= 0x20;
  fs.writeFileSync(file, bytes);
};

const segments = (d: CheckpointedDir) =>
  fs
    .readdirSync(d.walDir)
    .filter((n) => n.endsWith('.log'))
    .sort();

/** Each way of damaging the directory, by name. */
const DAMAGE: Record<string, (d: CheckpointedDir) => void> = {
  'nothing (clean)': () => {},
  'every checkpoint deleted': (d) => {
    for (const n of fs.readdirSync(d.checkpointsDir))
      fs.rmSync(path.join(d.checkpointsDir, n), { recursive: true });
  },
  'wal/ deleted': (d) => fs.rmSync(d.walDir, { recursive: true }),
  'a middle WAL segment deleted': (d) => {
    const s = segments(d);
    fs.rmSync(path.join(d.walDir, s[s.length - 2]!));
  },
  'the newest base damaged (falls back)': (d) =>
    flipByte(path.join(d.checkpointsDir, checkpointName(6), 'state.base'), (n) => n >> 1),
  'every base damaged': (d) => {
    for (const id of [3, 6])
      flipByte(path.join(d.checkpointsDir, checkpointName(id), 'state.base'), (n) => n >> 1);
  },
  'a newer manifest version': (d) => {
    const file = path.join(d.checkpointsDir, checkpointName(6), 'manifest.json');
    const m = JSON.parse(fs.readFileSync(file, 'utf8'));
    delete m.crc32c;
    m.version = 99;
    fs.writeFileSync(file, encodeManifest(m));
  },
  'a retained WAL segment damaged': (d) => flipByte(path.join(d.walDir, segments(d)[0]!), (n) => n >> 1),
  'the final segment damaged mid-log': (d) =>
    flipByte(path.join(d.walDir, segments(d).at(-2)!), (n) => n - 10),
  'a flat-layout (version 1) checkpoint file': (d) =>
    fs.writeFileSync(path.join(d.checkpointsDir, 'checkpoint-1.manifest.json'), '{}'),
  'a stray file and a half-written manifest in checkpoints/': (d) => {
    fs.writeFileSync(path.join(d.checkpointsDir, 'notes.txt'), 'x');
    fs.writeFileSync(path.join(d.checkpointsDir, checkpointName(6), 'manifest.json.tmp'), '{"ver');
  },
};

async function outcome(run: () => Promise<unknown>): Promise<string> {
  try {
    await run();
    return 'ok';
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  }
}

test('verify never says OK where recovery refuses: its verdict equals recover() and open() for every damaged directory', async () => {
  const pristine = await buildCheckpointedDir(tmpDir('verify-src'));
  assert.equal(segmentFileName(9).length > 0, true);
  for (const [name, damage] of Object.entries(DAMAGE)) {
    const dir = tmpDir('verify-case');
    fs.cpSync(pristine.dir, dir, { recursive: true });
    damage({
      ...pristine,
      dir,
      walDir: path.join(dir, 'wal'),
      checkpointsDir: path.join(dir, 'checkpoints'),
    });
    const lines: string[] = [];
    const exit = await runVerify({ dir, store: undefined, json: true }, (l) => lines.push(l));
    const report = JSON.parse(lines.at(-1)!) as {
      clean: boolean;
      problems: { code: string; path: string | null }[];
      warnings: unknown[];
      recovery: { ok: boolean; code?: string };
    };
    const recovered = await outcome(() => new RecoveryManager({ dir }).recover());
    const copy = tmpDir('verify-open');
    fs.cpSync(dir, copy, { recursive: true });
    const opened = await outcome(async () => (await new RecoveryManager({ dir: copy }).open()).close());
    assert.equal(opened, recovered, `${name}: open() and recover() agree`);
    assert.equal(
      report.recovery.ok ? 'ok' : report.recovery.code,
      recovered,
      `${name}: verify's recovery verdict`,
    );
    if (recovered !== 'ok') {
      assert.equal(exit, 1, `${name}: verify exits non-zero when recovery refuses`);
      assert.ok(
        report.problems.some((p) => p.code === recovered),
        `${name}: verify names ${recovered}: ${JSON.stringify(report.problems)}`,
      );
    }
    if (exit === 0) assert.equal(recovered, 'ok', `${name}: a clean verify means recovery works`);
    if (name.startsWith('nothing')) assert.equal(exit, 0);
    if (name.startsWith('a stray')) {
      assert.equal(exit, 0, 'stray names are warnings, not damage');
      assert.equal(report.warnings.length, 2);
    }
  }
});
