// Loading a sorted base into the slab state appends its keys without comparing each with the
// last (the reader already refused any out of order): the state must be exactly the file's,
// and a base loaded after other keys (its first key not past them) must still land in order.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyStateFile, encodeStateFile, StateFileKind } from '../../src/format/index.ts';
import { SlabStore } from '../../src/state/index.ts';

const value = (i: number) => Buffer.from(`v${i}:${'x'.repeat(i % 90)}`);
const key = (i: number) => `key:${String(i).padStart(6, '0')}${i % 7 === 0 ? '\u00e9' : ''}`;

test('a sorted base loaded into an empty slab state holds exactly its entries, in order, and takes writes after', () => {
  const n = 20_000;
  const entries = Array.from({ length: n }, (_, i) => [key(i), value(i)] as const);
  const file = encodeStateFile(StateFileKind.Base, n, entries);
  const state = new SlabStore();
  const info = applyStateFile(file, '/ckpt/state.base', state);
  assert.equal(info.entries, n);
  assert.equal(state.size, n);
  const seen = [...state].map(([k, v]) => [k, Buffer.from(v).toString()]);
  assert.deepEqual(
    seen,
    entries.map(([k, v]) => [k, v.toString()]),
  );
  for (const i of [0, 1, 4999, n - 1]) assert.deepEqual(Buffer.from(state.get(key(i))!), value(i));
  state.put(key(5).replace('key', 'kez'), Buffer.from('after'));
  state.delete(key(3));
  assert.equal(state.size, n);
  assert.equal(state.get(key(3)), undefined);
  assert.deepEqual(Buffer.from(state.get('kez:000005')!), Buffer.from('after'));
});

test('a sorted base loaded after other keys (its first key sorts before them) lands in key order', () => {
  const state = new SlabStore();
  state.put('m', Buffer.from('middle'));
  const entries = ['a', 'b', 'n', 'z'].map((k, i) => [k, value(i)] as const);
  applyStateFile(encodeStateFile(StateFileKind.Base, entries.length, entries), '/ckpt/state.base', state);
  assert.deepEqual([...state.keys()], ['a', 'b', 'm', 'n', 'z']);
  assert.deepEqual(Buffer.from(state.get('n')!), value(2));
  // And one whose keys all sort after the ones held.
  const after = new SlabStore();
  after.put('a', Buffer.from('first'));
  applyStateFile(encodeStateFile(StateFileKind.Base, entries.length, entries), '/ckpt/state.base', after);
  assert.deepEqual([...after.keys()], ['a', 'b', 'n', 'z']);
  assert.deepEqual(Buffer.from(after.get('a')!), value(0));
});
