// The conformance suite on local checkpoint files compressed with zstd (`compression`): every
// guarantee of the plain store (atomic publish, integrity on every read, chains) holds for framed files.
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

const root = tmpDir('conformance-fs-zstd');
let n = 0;
const dirOf = (store: CheckpointStore) => (store as FileSystemCheckpointStore).dir.path;
const open = async (dir: string) =>
  new FileSystemCheckpointStore(await FsDirectory.open(dir), { compression: 'zstd' });

checkpointStoreConformance('file system store (zstd)', {
  open: () => open(path.join(root, String(++n))),
  reopen: (store) => open(dirOf(store)),
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
