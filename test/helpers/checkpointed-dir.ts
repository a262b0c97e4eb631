/**
 * A data directory with history: two bases with deltas (checkpoints 1..6 with maxChainLength 2),
 * a WAL truncated to what retention keeps, spread over many small segments, and acknowledged
 * writes after the last checkpoint. Tests damage it and check what recovery and verify say.
 */
import * as path from 'node:path';
import { CHECKPOINT_DIR_NAME, RecoveryManager, WAL_DIR_NAME } from '../../src/recovery/index.ts';

/** What was built: the expected state (key → value as text) and where things are. */
export interface CheckpointedDir {
  dir: string;
  walDir: string;
  checkpointsDir: string;
  expected: Record<string, string>;
}

/** Builds the directory in `dir` (a fresh, empty path) and closes it cleanly. */
export async function buildCheckpointedDir(dir: string): Promise<CheckpointedDir> {
  const expected: Record<string, string> = {};
  const s = await new RecoveryManager({
    dir,
    wal: { segmentSizeBytes: 4096 },
    checkpoint: { maxChainLength: 2 },
  }).open();
  const round = (r: number) => {
    for (let i = 0; i < 60; i++) {
      const key = `k${(r * 37 + i) % 150}`;
      const value = `r${r}-${i}-${'x'.repeat(80)}`;
      s.store.put(key, Buffer.from(value));
      expected[key] = value;
    }
  };
  for (let r = 0; r < 6; r++) {
    round(r);
    await s.checkpoint();
  }
  round(6); // acknowledged by close(), covered by no checkpoint
  await s.close();
  return {
    dir,
    walDir: path.join(dir, WAL_DIR_NAME),
    checkpointsDir: path.join(dir, CHECKPOINT_DIR_NAME),
    expected,
  };
}

/** A state map as key → text, to compare with `expected`. */
export function asText(state: Iterable<[string, Uint8Array]>): Record<string, string> {
  return Object.fromEntries([...state].map(([k, v]) => [k, Buffer.from(v).toString()]));
}
