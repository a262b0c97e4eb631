// The peers' engines, as the peers and commit-latency benchmarks drive them (bench/peers.ts
// documents the setup and why): a durable commit of one put, and close.
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { open as openLmdb } from 'lmdb';

/** One peer engine, open on a fresh directory. */
export interface PeerEngine {
  commit(key: string, value: Buffer): Promise<unknown>;
  close(): Promise<void>;
}

// better-sqlite3 ships no types and @types/better-sqlite3 is not a dependency: the little used here.
interface SqliteStatement {
  run(...params: unknown[]): unknown;
}
interface SqliteDatabase {
  pragma(source: string): unknown;
  exec(source: string): unknown;
  prepare(source: string): SqliteStatement;
  transaction<A extends unknown[]>(fn: (...args: A) => void): (...args: A) => void;
  close(): unknown;
}
const Sqlite = createRequire(import.meta.url)('better-sqlite3') as new (file: string) => SqliteDatabase;

/** better-sqlite3, WAL mode, `synchronous = FULL`; the commits queued in one event-loop turn go in one transaction. */
export async function openSqlite(dir: string): Promise<PeerEngine> {
  fs.mkdirSync(dir, { recursive: true });
  const db = new Sqlite(path.join(dir, 'kv.sqlite'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec('CREATE TABLE kv (key TEXT PRIMARY KEY, value BLOB)');
  const upsert = db.prepare(
    'INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
  );
  type Pending = { key: string; value: Buffer; resolve: () => void; reject: (e: unknown) => void };
  const applyAll = db.transaction((batch: Pending[]) => {
    for (const p of batch) upsert.run(p.key, p.value);
  });
  let queued: Pending[] = [];
  const flush = () => {
    const batch = queued;
    queued = [];
    try {
      applyAll(batch);
    } catch (err) {
      for (const p of batch) p.reject(err);
      return;
    }
    for (const p of batch) p.resolve();
  };
  return {
    commit(key, value) {
      return new Promise<void>((resolve, reject) => {
        if (queued.push({ key, value, resolve, reject }) === 1) setImmediate(flush);
      });
    },
    async close() {
      db.close();
    },
  };
}

/** lmdb-js with durable defaults; a commit awaits `put()` and its `flushed` promise (`separateFlushed`). */
export async function openLmdbStore(dir: string): Promise<PeerEngine> {
  const db = openLmdb<Buffer, string>({ path: dir, encoding: 'binary', separateFlushed: true });
  return {
    commit(key, value) {
      const written = db.put(key, value) as Promise<boolean> & { flushed?: Promise<unknown> };
      if (!written.flushed) throw new Error('lmdb: separateFlushed gave no flushed promise');
      return Promise.all([written, written.flushed]);
    },
    close: () => db.close(),
  };
}
