// A per-core log that lost entries a checkpoint does not hold: recovery refuses with
// TIDEMARK_DATA_LOSS instead of starting from the checkpoint alone (and letting the core reuse
// sequences the checkpoint claims to cover).
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { FileSystemCheckpointStore, PerCoreCheckpointCoordinator } from '../../src/checkpoint/index.ts';
import { isTidemarkError } from '../../src/errors.ts';
import { FsDirectory } from '../../src/io/index.ts';
import { PerCoreRecoveryManager, recoverPerCore } from '../../src/recovery/index.ts';
import { localParticipant, PerCoreWalManager } from '../../src/wal/index.ts';
import { tmpDir } from '../helpers/tmp.ts';

const v = (s: string) => Buffer.from(s);

async function setup(name: string, cores: number) {
  const dir = tmpDir(name);
  const walRoot = await FsDirectory.open(path.join(dir, 'wal'));
  const store = new FileSystemCheckpointStore(await FsDirectory.open(path.join(dir, 'checkpoints')));
  return { dir, walRoot, store, cores };
}

function removeSegments(coreDir: string): void {
  for (const f of fs.readdirSync(coreDir)) if (f.endsWith('.log')) fs.rmSync(path.join(coreDir, f));
}

function dataLossOn(core: number) {
  return (e: unknown) => {
    assert.ok(isTidemarkError(e, 'TIDEMARK_DATA_LOSS'), String(e));
    assert.match(e.message, new RegExp(`^core ${core}: `));
    assert.ok(e.path?.endsWith(`core-${core}`), e.path);
    return true;
  };
}

test('a core whose log lost every segment after a checkpoint is refused with TIDEMARK_DATA_LOSS, not recovered as the checkpoint alone', async () => {
  const { dir, walRoot, store } = await setup('per-core-no-segments', 2);
  const m = await PerCoreWalManager.open({ dir: walRoot, cores: 2 });
  const coordinator = await PerCoreCheckpointCoordinator.open({
    store,
    walRoot,
    participants: [0, 1].map((c) => localParticipant(m.writer(c))),
  });
  for (let c = 0; c < 2; c++) m.writer(c).appendPut(`k${c}`, v('1'));
  await m.syncAll();
  await coordinator.checkpoint();
  m.writer(1).appendPut('acknowledged-after-the-checkpoint', v('2'));
  await m.syncAll();
  await m.close();
  removeSegments(path.join(dir, 'wal', 'core-1'));

  await assert.rejects(recoverPerCore({ walRoot, store, cores: 2 }), dataLossOn(1));
  await assert.rejects(new PerCoreRecoveryManager({ walRoot, store, cores: 2 }).open(), dataLossOn(1));
});

test('a core whose log was put back from a copy older than the checkpoint is refused with TIDEMARK_DATA_LOSS, so its writer never reuses sequences the checkpoint covers', async () => {
  const { dir, walRoot, store } = await setup('per-core-old-copy', 2);
  const m = await PerCoreWalManager.open({ dir: walRoot, cores: 2 });
  for (let c = 0; c < 2; c++) m.writer(c).appendPut(`k${c}`, v('1'));
  await m.syncAll();
  await m.close();
  const core1 = path.join(dir, 'wal', 'core-1');
  const copy = path.join(dir, 'core-1-copy');
  fs.cpSync(core1, copy, { recursive: true });

  const again = await PerCoreWalManager.open({ dir: walRoot, cores: 2 });
  const coordinator = await PerCoreCheckpointCoordinator.open({
    store,
    walRoot,
    participants: [0, 1].map((c) => localParticipant(again.writer(c))),
  });
  for (let i = 0; i < 5; i++) again.writer(1).appendPut(`more-${i}`, v('2'));
  await again.syncAll();
  await coordinator.checkpoint();
  await again.close();
  removeSegments(core1);
  for (const f of fs.readdirSync(copy))
    if (f.endsWith('.log')) fs.copyFileSync(path.join(copy, f), path.join(core1, f));

  await assert.rejects(recoverPerCore({ walRoot, store, cores: 2 }), dataLossOn(1));
});

test('with every checkpoint invalid and a core log without any segment, recovery refuses with TIDEMARK_DATA_LOSS instead of starting empty', async () => {
  const { dir, walRoot, store } = await setup('per-core-no-checkpoint', 1);
  const m = await PerCoreWalManager.open({ dir: walRoot, cores: 1 });
  const coordinator = await PerCoreCheckpointCoordinator.open({
    store,
    walRoot,
    participants: [localParticipant(m.writer(0))],
  });
  m.writer(0).appendPut('k', v('1'));
  await m.syncAll();
  const cp = await coordinator.checkpoint();
  await m.close();
  const ckDir = path.join(dir, 'checkpoints');
  const manifest = fs
    .readdirSync(ckDir, { recursive: true, encoding: 'utf8' })
    .find((f) => f.endsWith('manifest.json') && f.includes(String(cp.id)));
  assert.ok(manifest, 'the checkpoint has a manifest');
  const bytes = fs.readFileSync(path.join(ckDir, manifest));
  bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
  fs.writeFileSync(path.join(ckDir, manifest), bytes);
  removeSegments(path.join(dir, 'wal', 'core-0'));

  await assert.rejects(recoverPerCore({ walRoot, store, cores: 1 }), (e: unknown) => {
    dataLossOn(0)(e);
    assert.match((e as Error).message, /no valid checkpoint/);
    return true;
  });
});
