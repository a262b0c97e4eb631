/**
 * Exclusive writer lock for an `FsDirectory`, across processes and within one.
 *
 * Node.js has no flock(2), so the lock is a `LOCK` file naming its owner: pid, process start
 * time (/proc/<pid>/stat field 22) and boot id (/proc/sys/kernel/random/boot_id), plus a random
 * token. A pid whose start time differs, or a lock written before the last reboot, is not
 * mistaken for a live owner when the pid has been reused. Where /proc is missing the lock falls
 * back to the pid alone.
 *
 * - The owner line is never visible half-written: it is written to a private temporary file,
 *   fdatasynced, then link(2)ed to `LOCK` — link fails with EEXIST when `LOCK` exists, an atomic
 *   create-with-content (the NFS-safe lock file protocol of procmail's lockfile and liblockfile).
 *   So an empty or unparseable `LOCK` can only be debris (a writer of an older release killed
 *   between create and write, a damaged disk) and is treated like a dead owner's: stale.
 * - Taking over a stale lock is race-free: contenders for the stale `LOCK` whose inode is `i`
 *   must first create the claim `LOCK.takeover-<i>` (by the same link protocol), so one of them
 *   at a time acts; the claimant checks that `LOCK` is still inode `i` and still stale, then
 *   rename(2)s its own owner file over it (the name is never missing, so no plain `link` can slip
 *   in), and drops the claim. A claimant killed mid-takeover leaves a claim whose owner is dead:
 *   that claim is itself taken over the same way (claims of claims, a few levels at most).
 * - Within one thread a registry of held paths makes a second open fail even though the pid
 *   matches; another thread of this process sees a live owner (its own pid) and fails too — a
 *   lock held by this process is passed to the threads that need it, never re-acquired.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ioError, TidemarkError } from '../errors.js';
import type { DirectoryLock } from './directory.js';

/** Name of the lock file inside a locked directory. */
export const LOCK_FILE_NAME = 'LOCK';

/** Prefix of the private files an owner line is written to before it is linked into place. */
const PENDING_PREFIX = `${LOCK_FILE_NAME}.pending-`;
/** Prefix of the claim files that serialise the takeover of one stale lock (by inode). */
const TAKEOVER_PREFIX = `${LOCK_FILE_NAME}.takeover-`;
/** Claims of claims deeper than this (a claimant killed mid-takeover, again and again) give up. */
const MAX_TAKEOVER_DEPTH = 4;

const heldInThisProcess = new Set<string>();

interface LockOwner {
  pid: number;
  startTime: string;
  bootId: string;
  token: string;
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

let cachedBootId: string | undefined;
function bootId(): string {
  if (cachedBootId === undefined) {
    try {
      cachedBootId = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    } catch {
      cachedBootId = '';
    }
  }
  return cachedBootId;
}

/** True unless the owner is known to be gone: another boot, no such pid, or a reused pid. */
function isAlive(owner: LockOwner): boolean {
  const boot = bootId();
  if (boot !== '' && owner.bootId !== '' && owner.bootId !== boot) return false;
  try {
    process.kill(owner.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const start = processStartTime(owner.pid);
  return start === '' || owner.startTime === '' || start === owner.startTime;
}

function parseOwner(text: string): LockOwner | undefined {
  const m = /^pid=(\d+) start=(\S*)(?: boot=(\S*))?(?: token=(\S*))?\n?$/.exec(text);
  if (!m) return undefined;
  const pid = Number(m[1]);
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
  return { pid, startTime: m[2] ?? '', bootId: m[3] ?? '', token: m[4] ?? '' };
}

function ownerLine(token: string): string {
  return `pid=${process.pid} start=${processStartTime(process.pid)} boot=${bootId()} token=${token}\n`;
}

function lockedError(lockPath: string, owner: LockOwner | undefined, why = ''): TidemarkError {
  const who = owner ? `process ${owner.pid}` : 'another writer';
  return new TidemarkError(
    'TIDEMARK_LOCKED',
    `${path.dirname(lockPath)} is locked by ${who} (${lockPath})${why}`,
    { path: lockPath },
  );
}

/** What a lock-like file held when looked at: its inode and its owner (undefined: unparseable). */
interface Seen {
  ino: string;
  owner: LockOwner | undefined;
}

/** Reads `p`; undefined when it does not exist. */
function inspect(p: string): Seen | undefined {
  let fd: number;
  try {
    fd = fs.openSync(p, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw ioError('read lock', p, err);
  }
  try {
    const ino = fs.fstatSync(fd, { bigint: true }).ino.toString();
    const buf = Buffer.alloc(512);
    const n = fs.readSync(fd, buf, 0, buf.length, 0);
    return { ino, owner: parseOwner(buf.subarray(0, n).toString('utf8')) };
  } catch (err) {
    throw ioError('read lock', p, err);
  } finally {
    fs.closeSync(fd);
  }
}

function isStale(seen: Seen): boolean {
  return seen.owner === undefined || !isAlive(seen.owner);
}

/** Writes `content` to a fresh private file in `dir`, fdatasynced; returns its path. */
function writePending(dir: string, content: string): string {
  const p = path.join(dir, `${PENDING_PREFIX}${process.pid}-${randomBytes(6).toString('hex')}`);
  let fd: number;
  try {
    fd = fs.openSync(p, fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_WRONLY, 0o644);
  } catch (err) {
    throw ioError('create lock', p, err);
  }
  try {
    fs.writeSync(fd, content);
    fs.fdatasyncSync(fd);
  } catch (err) {
    fs.closeSync(fd);
    fs.rmSync(p, { force: true });
    throw ioError('write lock', p, err);
  }
  fs.closeSync(fd);
  return p;
}

/** Creates `target` holding `content` unless it exists (link(2): atomic create-with-content). */
function createWithContent(dir: string, target: string, content: string): boolean {
  const pending = writePending(dir, content);
  try {
    fs.linkSync(pending, target);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw ioError('create lock', target, err);
  } finally {
    fs.rmSync(pending, { force: true });
  }
}

/** Replaces `target` by a file holding `content` (rename(2): the name never goes missing). */
function replaceWithContent(dir: string, target: string, content: string): void {
  const pending = writePending(dir, content);
  try {
    fs.renameSync(pending, target);
  } catch (err) {
    fs.rmSync(pending, { force: true });
    throw ioError('take over stale lock', target, err);
  }
}

type TakeResult = { won: true } | { won: false; owner: LockOwner | undefined; why?: string };

/** What {@link take} claims: three strings, so named. */
interface TakeRequest {
  /** The (real) directory path. */
  dir: string;
  /** The lock or claim file's name in it. */
  name: string;
  /** The owner line to write into it. */
  content: string;
}

/**
 * Makes `name` in `dir` hold `content`: creates it, or takes it over when its owner is dead or
 * unknown (see the module comment). Resolves who holds it otherwise. `depth` counts nested
 * takeover claims.
 */
function take(request: TakeRequest, depth: number): TakeResult {
  const { dir, name, content } = request;
  const target = path.join(dir, name);
  for (let attempt = 0; attempt < 8; attempt++) {
    if (createWithContent(dir, target, content)) return { won: true };
    const seen = inspect(target);
    if (seen === undefined) continue; // released in between: try again
    if (!isStale(seen)) return { won: false, owner: seen.owner };
    if (depth >= MAX_TAKEOVER_DEPTH)
      return { won: false, owner: seen.owner, why: '; stale, but takeovers keep failing: remove it by hand' };
    const claimName = `${TAKEOVER_PREFIX}${seen.ino}`;
    const claim = take({ dir, name: claimName, content }, depth + 1);
    // Another live contender is taking this stale lock over: it wins, we are locked out.
    if (!claim.won) return { won: false, owner: claim.owner, ...(claim.why ? { why: claim.why } : {}) };
    try {
      const now = inspect(target);
      // Only the holder of the claim on inode `seen.ino` may replace that inode; anything else
      // means the name moved on since we looked: look again.
      if (now === undefined || now.ino !== seen.ino) continue;
      if (!isStale(now)) return { won: false, owner: now.owner };
      replaceWithContent(dir, target, content);
      return { won: true };
    } finally {
      fs.rmSync(path.join(dir, claimName), { force: true });
    }
  }
  return { won: false, owner: undefined };
}

/** Removes pending files and claims left behind by dead processes (best effort). */
function removeDebris(dir: string): void {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    let dead = false;
    if (name.startsWith(PENDING_PREFIX)) {
      const pid = Number(name.slice(PENDING_PREFIX.length).split('-')[0]);
      dead = pid !== process.pid && !isAlive({ pid, startTime: '', bootId: '', token: '' });
    } else if (name.startsWith(TAKEOVER_PREFIX)) {
      const seen = inspect(path.join(dir, name));
      dead = seen !== undefined && isStale(seen);
    }
    if (dead) fs.rmSync(path.join(dir, name), { force: true });
  }
}

/**
 * Takes the lock on `dirPath` (its `LOCK` file); throws `TIDEMARK_LOCKED` when another live
 * writer holds it (this thread, another thread of this process, or another process), `TIDEMARK_IO`
 * when the lock file cannot be written. A stale lock (dead owner, empty or unparseable file) is
 * taken over. The caller fsyncs the directory.
 */
export function acquireFsLock(dirPath: string): DirectoryLock {
  const real = fs.realpathSync(dirPath);
  const lockPath = path.join(real, LOCK_FILE_NAME);
  if (heldInThisProcess.has(real))
    throw lockedError(lockPath, { pid: process.pid, startTime: '', bootId: '', token: '' }, ' (this thread)');
  const token = randomBytes(12).toString('hex');
  const result = take({ dir: real, name: LOCK_FILE_NAME, content: ownerLine(token) }, 0);
  if (!result.won) throw lockedError(lockPath, result.owner, result.why);
  heldInThisProcess.add(real);
  removeDebris(real);
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      heldInThisProcess.delete(real);
      // Only our own lock is removed: one that another process took over (it judged us dead)
      // is theirs.
      if (inspect(lockPath)?.owner?.token !== token) return;
      try {
        await fs.promises.unlink(lockPath);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError('release lock', lockPath, err);
      }
    },
  };
}
