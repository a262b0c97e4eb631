// Opens a pipeline store on the object store given as JSON in argv[3] (WAL archiving with no
// archive timer), writes `k0`…`k<n-1>` across many small WAL segments in committed batches, makes
// them durable and exits without closing: sealed segments are left unarchived, as after a crash.
// One checkpoint a third of the way in, so a later checkpoint can be a delta on it.
import { openChangelogAwareStore } from '../../src/pipeline/index.ts';
import { payloadFor } from './tmp.ts';

const [dir, objectStoreJson, count] = process.argv.slice(2);
const { store } = await openChangelogAwareStore({
  dir: dir!,
  objectStore: JSON.parse(objectStoreJson!),
  archiveIntervalMs: 0,
  transactional: true,
  wal: { segmentSizeBytes: 8192 },
  checkpoint: { recoveryCheckpointRecords: 0 },
});
const n = Number(count);
for (let i = 0; i < n; i++) {
  store.put(`k${i}`, payloadFor(i));
  if (i % 50 === 49) store.commit({ src: i + 1 });
  if (i === Math.floor(n / 3)) await store.checkpoint();
}
await store.flushed(store.commit({ src: n }));
process.stdout.write('durable\n');
