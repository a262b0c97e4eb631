/**
 * A child process of test/crash/lock-takeover-race.test.ts: a contender for the lock of one
 * directory. Reads commands on stdin, one a line:
 * - `go <dir> <atMs>`: waits (spinning) until the wall clock reads `atMs`, so every contender
 *   starts at the same instant, then tries to take the lock and prints `won` or the error code;
 * - `release`: releases the lock if it won, prints `released`.
 */
import * as readline from 'node:readline';
import type { DirectoryLock } from '../../src/io/directory.ts';
import { FsDirectory } from '../../src/io/fs-directory.ts';

let held: DirectoryLock | undefined;
const rl = readline.createInterface({ input: process.stdin });
console.log('ready');
rl.on('line', async (line) => {
  const [cmd, dir, at] = line.split(' ');
  if (cmd === 'go') {
    const directory = await FsDirectory.open(dir!);
    while (Date.now() < Number(at));
    try {
      held = await directory.lock();
      console.log('won');
    } catch (err) {
      console.log((err as { code?: string }).code ?? String(err));
    }
  } else if (cmd === 'release') {
    await held?.release();
    held = undefined;
    console.log('released');
  }
});
