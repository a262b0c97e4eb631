// Child of the fdatasync-failure test (run under strace, which fails fdatasync on the segment
// file with EIO from its Nth call): writes keys k1, k2, … in committed batches through the
// pipeline (argv[3] 'ring', default) or the simple store ('simple') with syncMethod 'fdatasync',
// prints each acknowledged batch, then what the store does after the failure.
import { isTidemarkError } from '../../src/errors.ts';
import { openChangelogAwareStore } from '../../src/pipeline/index.ts';
import { RecoveryManager } from '../../src/recovery/index.ts';
import { payloadFor } from './tmp.ts';

const say = (line: string) => process.stdout.write(`${line}\n`);
const code = (err: unknown) => (isTidemarkError(err) ? err.code : `untyped ${String(err)}`);
const config = {
  dir: process.argv[2]!,
  transactional: true,
  wal: { syncMethod: 'fdatasync', groupCommitDelayMs: 1 },
} as const;
const store =
  process.argv[3] === 'simple'
    ? await (async () => {
        const opened = await new RecoveryManager(config).open();
        return {
          put: (k: string, v: Uint8Array) => opened.store.put(k, v),
          commit: (o: Record<string, number>) => opened.store.commit(o),
          flushed: (lsn: number) => opened.store.flushed(lsn),
          durable: () => opened.store.durable(),
          close: () => opened.close(),
        };
      })()
    : (await openChangelogAwareStore(config)).store;
let next = 1;
try {
  for (let batch = 0; batch < 200; batch++) {
    for (let i = 0; i < 20; i++, next++) store.put(`k${next}`, payloadFor(next));
    await store.flushed(store.commit({ src: next - 1 }));
    say(`ack ${next - 1}`);
  }
  say('no-failure');
} catch (err) {
  say(`failed ${code(err)}`);
}
try {
  store.put('after', new Uint8Array(1));
  say('put-after ok');
} catch (err) {
  say(`put-after ${code(err)}`);
}
await store.durable().then(
  () => say('durable-after ok'),
  (err) => say(`durable-after ${code(err)}`),
);
await store.close().then(
  () => say('close ok'),
  (err) => say(`close ${code(err)}`),
);
