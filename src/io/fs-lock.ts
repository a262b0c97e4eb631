/**
 * Exclusive writer lock for an `FsDirectory`, across processes and within one.
 *
 * Node.js has no flock(2), so the lock is a `LOCK` file created with O_CREAT|O_EXCL holding the
 * owner's pid and its start time (from /proc, so a recycled pid is not mistaken for the owner).
 * A lock whose owner is gone (for example after `kill -9`) is stale and is taken over: the stale
 * file is renamed aside (only one contender's rename of that inode can succeed), then the
 * contender creates a fresh one with O_EXCL. Within one process a registry of held paths makes a
 * second open fail even though the pid matches.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ioError, TidemarkError } from '../errors.js';
import type { DirectoryLock } from './directory.js';

/** Name of the lock file inside a locked directory. */
export const LOCK_FILE_NAME = 'LOCK';

const heldInThisProcess = new Set<string>();

interface LockOwner {
  pid: number;
  startTime: string;
}

function processStartTime(pid: number): string {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22 (starttime) counts from after the parenthesised command name.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19] ?? '';
  } catch {
    return '';
  }
}

function isAlive(owner: LockOwner): boolean {
  try {
    process.kill(owner.pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  const start = processStartTime(owner.pid);
  return start === '' || owner.startTime === '' || start === owner.startTime;
}

function parseOwner(text: string): LockOwner | undefined {
  const m = /^pid=(\d+) start=(\S*)/.exec(text);
  return m ? { pid: Number(m[1]), startTime: m[2] ?? '' } : undefined;
}

function lockedError(lockPath: string, owner: LockOwner | undefined): TidemarkError {
  const who = owner ? `process ${owner.pid}` : 'another writer';
  return new TidemarkError('TIDEMARK_LOCKED', `${path.dirname(lockPath)} is locked by ${who} (${lockPath})`, {
    path: lockPath,
  });
}

/** Takes the lock on `dirPath`; throws `TIDEMARK_LOCKED` when another live writer holds it. */
export function acquireFsLock(dirPath: string): DirectoryLock {
  const real = fs.realpathSync(dirPath);
  const lockPath = path.join(real, LOCK_FILE_NAME);
  if (heldInThisProcess.has(real)) throw lockedError(lockPath, { pid: process.pid, startTime: '' });
  const me = `pid=${process.pid} start=${processStartTime(process.pid)}\n`;
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number;
    try {
      fd = fs.openSync(lockPath, fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_WRONLY, 0o644);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw ioError('create lock', lockPath, err);
      let owner: LockOwner | undefined;
      try {
        owner = parseOwner(fs.readFileSync(lockPath, 'utf8'));
      } catch (readErr) {
        if ((readErr as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw ioError('read lock', lockPath, readErr);
      }
      // A lock file without an owner line is one being written right now: treat it as held.
      if (owner === undefined || isAlive(owner)) throw lockedError(lockPath, owner);
      const aside = `${lockPath}.stale-${process.pid}`;
      try {
        fs.renameSync(lockPath, aside);
      } catch (renameErr) {
        if ((renameErr as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw ioError('take over stale lock', lockPath, renameErr);
      }
      // If what we moved aside is not the stale lock we judged, a contender won: put it back.
      const moved = parseOwner(fs.readFileSync(aside, 'utf8'));
      if (moved === undefined || moved.pid !== owner.pid || moved.startTime !== owner.startTime) {
        try {
          fs.linkSync(aside, lockPath);
        } finally {
          fs.rmSync(aside, { force: true });
        }
        throw lockedError(lockPath, moved);
      }
      fs.rmSync(aside, { force: true });
      continue;
    }
    try {
      fs.writeSync(fd, me);
      fs.fdatasyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    heldInThisProcess.add(real);
    let released = false;
    return {
      async release() {
        if (released) return;
        released = true;
        heldInThisProcess.delete(real);
        try {
          await fs.promises.unlink(lockPath);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError('release lock', lockPath, err);
        }
      },
    };
  }
  throw lockedError(lockPath, undefined);
}
