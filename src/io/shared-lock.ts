/**
 * One held directory lock shared by several owners (the per-core writers of one data
 * directory): each gets a handle, and the lock itself is released when the last handle is.
 */
import type { DirectoryLock } from './directory.js';

/** Splits `lock` into `owners` handles; releasing all of them releases `lock` (once). */
export function shareLock(lock: DirectoryLock, owners: number): DirectoryLock[] {
  let remaining = owners;
  return Array.from({ length: owners }, () => {
    let released = false;
    return {
      async release() {
        if (released) return;
        released = true;
        if (--remaining === 0) await lock.release();
      },
    };
  });
}
