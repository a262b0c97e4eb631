// Runs against the real radosgw started by scripts/run-tests.mjs.
import { type CheckpointStore, ObjectStoreCheckpointStore } from '../../src/checkpoint/index.ts';
import { S3ObjectStorage } from '../../src/io/index.ts';
import { testObjectStore } from '../helpers/s3.ts';
import { checkpointStoreConformance } from './checkpoint-store-suite.ts';

const PART = 5 * 1024 * 1024;
const storageOf = (store: CheckpointStore) => (store as ObjectStoreCheckpointStore).storage;

checkpointStoreConformance('object store (radosgw)', {
  open: async () => new ObjectStoreCheckpointStore(testObjectStore('conformance', { partSizeBytes: PART })),
  reopen: async (store) => new ObjectStoreCheckpointStore({ ...storageOf(store).config }),
  overwriteDataFile: async (store, manifest, name, bytes) => {
    // A raw client: the object is replaced behind the store's back (bit rot, a bad actor).
    const raw = new S3ObjectStorage({ ...storageOf(store).config });
    // A packed file lives in a shared object (CheckpointBatcher): overwrite that one.
    const object = manifest.files.find((f) => f.name === name)?.object ?? name;
    const key = `checkpoints/checkpoint-${String(manifest.id).padStart(16, '0')}/${manifest.attemptId}/${object}`;
    await raw.put(key, bytes);
    raw.destroy();
  },
  // No writeLatestPointer: an object store keeps no pointer; its newest checkpoint is listed.
  close: async (store) => (store as ObjectStoreCheckpointStore).close(),
  largeFileBytes: 12 * 1024 * 1024,
});
