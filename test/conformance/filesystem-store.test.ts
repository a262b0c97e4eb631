import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  type CheckpointStore,
  checkpointName,
  FileSystemCheckpointStore,
} from '../../src/checkpoint/index.ts';
import { FsDirectory } from '../../src/io/index.ts';
import { tmpDir } from '../helpers/tmp.ts';
import { checkpointStoreConformance } from './checkpoint-store-suite.ts';

const root = tmpDir('conformance-fs');
let n = 0;
const dirOf = (store: CheckpointStore) => (store as FileSystemCheckpointStore).dir.path;

checkpointStoreConformance('file system store', {
  open: async () => new FileSystemCheckpointStore(await FsDirectory.open(path.join(root, String(++n)))),
  reopen: async (store) => new FileSystemCheckpointStore(await FsDirectory.open(dirOf(store))),
  overwriteDataFile: async (store, manifest, name, bytes) => {
    fs.writeFileSync(path.join(dirOf(store), checkpointName(manifest.id), name), bytes);
  },
  writeLatestPointer: async (store, bytes) => {
    const p = path.join(dirOf(store), 'latest');
    if (bytes === undefined) fs.rmSync(p, { force: true });
    else fs.writeFileSync(p, bytes);
  },
  close: async () => {},
  largeFileBytes: 12 * 1024 * 1024,
});
