/**
 * The changelog-aware store reports its recovery point objective: `stats().unarchivedBytes`
 * (WAL bytes a takeover on another machine would lose now) and `segmentsArchived`, as the simple
 * store's archiver does. Without them a user of the pipeline could not see or alert on the RPO
 * that `archiveIntervalMs` is meant to bound.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { openChangelogAwareStore } from '../../src/pipeline/index.ts';
import { tmpDir } from '../helpers/tmp.ts';

test('the pipeline store reports unarchived WAL bytes, and they fall to zero once the archive timer ships the log', async () => {
  const root = tmpDir('ring-archive-stats');
  const { store } = await openChangelogAwareStore({
    dir: path.join(root, 'data'),
    objectStore: pathToFileURL(path.join(root, 'store')).href,
    archiveIntervalMs: 300,
  });
  try {
    assert.equal(store.stats().segmentsArchived, 0);
    for (let i = 0; i < 2000; i++) store.put(`k${i}`, Buffer.alloc(100, i % 251));
    await store.durable();
    // Stats are refreshed every 250 ms; the timer seals and ships the active segment.
    const deadline = Date.now() + 10_000;
    for (;;) {
      const s = store.stats();
      if (s.segmentsArchived >= 1 && s.unarchivedBytes === 0) break;
      assert.ok(
        Date.now() < deadline,
        `archive never caught up: ${JSON.stringify({ u: s.unarchivedBytes, a: s.segmentsArchived })}`,
      );
      await sleep(50);
    }
  } finally {
    await store.close();
  }
});

test('without an object store there is nothing to archive: unarchivedBytes stays 0', async () => {
  const { store } = await openChangelogAwareStore({ dir: path.join(tmpDir('ring-no-archive'), 'data') });
  try {
    store.put('k', Buffer.from('v'));
    await store.durable();
    await sleep(300);
    assert.equal(store.stats().unarchivedBytes, 0);
    assert.equal(store.stats().segmentsArchived, 0);
  } finally {
    await store.close();
  }
});
