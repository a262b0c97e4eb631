/**
 * The iterator every scan returns: `[key, value]` pairs in key order, usable with both `for…of`
 * and `for await…of` (so a consumer that awaits between entries reads the same way). The async
 * form pulls from the same cursor: mixing the two on one scan continues where the other stopped.
 */

/** A scan: a synchronous iterator that is also async-iterable. */
export interface StateScan
  extends IterableIterator<[string, Uint8Array]>,
    AsyncIterable<[string, Uint8Array]> {
  /** `for await (const [key, value] of scan)`: the same cursor, one entry per turn. */
  [Symbol.asyncIterator](): AsyncIterableIterator<[string, Uint8Array]>;
}

/** An async iterator over the synchronous iterator `it` (its `return()` is forwarded). */
export function asyncOver<T>(it: Iterator<T>): AsyncIterableIterator<T> {
  const a: AsyncIterableIterator<T> = {
    next: () => Promise.resolve(it.next()),
    return: (value?: unknown) =>
      Promise.resolve(it.return?.() ?? ({ done: true, value } as IteratorResult<T>)),
    [Symbol.asyncIterator]: () => a,
  };
  return a;
}

/**
 * Compares two well-formed strings in the order of their UTF-8 bytes (= code point order): a
 * code unit at or above U+E000 is moved below the surrogates so that a surrogate pair (an astral
 * code point) sorts after every BMP character, as its 4-byte UTF-8 form does.
 */
export function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800) x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
    if (y >= 0xd800) y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    return x - y;
  }
  return a.length - b.length;
}
