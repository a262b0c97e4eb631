// Child of test/crash/file-object-store-atomic-put.test.ts: create-only puts with metadata into a
// file:// store, as fast as it can, until SIGKILLed.
import { FileObjectStorage } from '../../src/io/file-object-storage.ts';

const [root, start] = process.argv.slice(2);
const storage = new FileObjectStorage({ bucket: 'file', prefix: '', directory: root! });
const body = Buffer.alloc(64 * 1024, 7);
process.send?.('ready');
for (let i = Number(start); ; i++) {
  await storage.put(`wal/obj-${String(i).padStart(8, '0')}`, body, {
    createOnly: true,
    metadata: { 'tidemark-epoch': String(i) },
  });
}
