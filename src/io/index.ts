export type { Directory, DirectoryFile, DirectoryLock, OpenMode, OpenOptions } from './directory.js';
export { FsDirectory, TEMP_SUFFIX } from './fs-directory.js';
export { LOCK_FILE_NAME } from './fs-lock.js';
export { MemoryDirectory } from './memory-directory.js';
