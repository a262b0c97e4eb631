import {
  type CheckpointStore,
  checkpointName,
  FileSystemCheckpointStore,
} from '../../src/checkpoint/index.ts';
import { MemoryDirectory } from '../../src/io/index.ts';
import { checkpointStoreConformance } from './checkpoint-store-suite.ts';

const dirOf = (store: CheckpointStore) => (store as FileSystemCheckpointStore).dir as MemoryDirectory;

checkpointStoreConformance('in-memory store', {
  open: async () => new FileSystemCheckpointStore(new MemoryDirectory()),
  reopen: async (store) => new FileSystemCheckpointStore(dirOf(store)),
  overwriteDataFile: async (store, manifest, name, bytes) => {
    const sub = await dirOf(store).subdirectory(checkpointName(manifest.id));
    await sub.remove([name]);
    const f = await sub.open(name, 'create');
    await f.write(bytes, 0, bytes.length, 0);
    await f.close();
  },
  writeLatestPointer: async (store, bytes) => {
    const dir = dirOf(store);
    if (bytes === undefined) await dir.remove(['latest']);
    else await dir.writeFileAtomic('latest', bytes);
  },
  close: async () => {},
  largeFileBytes: 12 * 1024 * 1024,
});
