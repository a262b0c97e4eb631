// Opens a pipeline store, makes 100 puts durable, and returns without closing it: the process
// must still exit on its own.
import { openChangelogAwareStore } from '../../src/pipeline/index.ts';

const { store } = await openChangelogAwareStore({ dir: process.argv[2]! });
let seq = 0;
for (let i = 0; i < 100; i++) seq = store.put(`k${i}`, new Uint8Array(10));
await store.flushed(seq);
process.stdout.write(`durable ${seq}\n`);
