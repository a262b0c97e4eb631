import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openChangelogAwareStore } from '../../src/pipeline/index.ts';
import { RecoveryManager } from '../../src/recovery/index.ts';
import { payloadFor, tmpDir } from '../helpers/tmp.ts';

const CHILD = fileURLToPath(new URL('../helpers/eio-child.ts', import.meta.url));

for (const engine of ['ring', 'simple'] as const)
  test(`an fdatasync EIO (strace, scoped to the segment file) is final for the ${engine === 'ring' ? 'Ring 1 pipeline' : 'simple store'}: every waiter rejects with TIDEMARK_IO, no retry, and reopening recovers what was acknowledged`, async () => {
    const probe = spawnSync('strace', ['-V'], { encoding: 'utf8' });
    assert.equal(
      probe.status,
      0,
      'strace is required for this test (.ci/run installs it: apt-get install strace)',
    );
    const dir = tmpDir(`eio-${engine}`);
    const segment = path.join(dir, 'wal', 'wal-0000000000000001.log');
    const log = path.join(dir, 'strace.log');
    const r = spawnSync(
      'strace',
      [
        '-f',
        '-qq',
        '-o',
        log,
        '-P',
        segment,
        '-e',
        'trace=fdatasync',
        '-e',
        'inject=fdatasync:error=EIO:when=6+',
        process.execPath,
        '--import',
        'tsx',
        CHILD,
        dir,
        engine,
      ],
      { encoding: 'utf8', timeout: 60_000 },
    );
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    const acks = lines.filter((l) => l.startsWith('ack ')).map((l) => Number(l.slice(4)));
    assert.ok(acks.length > 0, `some batches were acknowledged before the failure: ${r.stdout}`);
    assert.ok(lines.includes('failed TIDEMARK_IO'), r.stdout);
    assert.ok(lines.includes('put-after TIDEMARK_IO'), 'the store is read-only after the failure');
    assert.ok(lines.includes('durable-after TIDEMARK_IO'), 'later waiters reject too');
    assert.ok(lines.includes('close TIDEMARK_IO'), 'close reports the failure');
    // strace's log: exactly one injected failure and no fdatasync on the segment after it.
    const trace = fs
      .readFileSync(log, 'utf8')
      .split('\n')
      .filter((l) => l.includes('fdatasync('));
    const failedAt = trace.findIndex((l) => l.includes('INJECTED'));
    assert.ok(failedAt >= 0, 'the injected failure happened');
    assert.equal(trace.length, failedAt + 1, `no fdatasync retried after the failure:\n${trace.join('\n')}`);

    // Reopen without faults: the lock was released and everything acknowledged is there, exactly once.
    const lastAck = Math.max(...acks);
    const recovered = await new RecoveryManager({ dir, transactional: true }).recover();
    const src = recovered.sourceOffsets.src ?? 0;
    assert.ok(src >= lastAck, `acknowledged ${lastAck}, recovered ${src}`);
    assert.equal(recovered.state.size, src);
    for (let n = 1; n <= src; n++)
      assert.ok(Buffer.from(recovered.state.get(`k${n}`)!).equals(payloadFor(n)));
    const { store } = await openChangelogAwareStore({ dir, transactional: true });
    store.put('again', new Uint8Array(1));
    await store.durable();
    await store.close();
  });
