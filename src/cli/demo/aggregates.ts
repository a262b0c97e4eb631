/**
 * How the demo keeps its aggregates in a tidemark store: keys `o:<ORIGIN>` hold three float64
 * (count, delaySum, delayMax), keys `r:<ORIGIN>-<DEST>` one float64 (count).
 */
import type { DemoResult } from './flights.js';
import { canonicalResult } from './flights.js';

export const ORIGIN_PREFIX = 'o:';
export const ROUTE_PREFIX = 'r:';

export function encodeOrigin(count: number, delaySum: number, delayMax: number): Uint8Array {
  return new Uint8Array(Float64Array.of(count, delaySum, delayMax).buffer);
}

export function decodeOrigin(value: Uint8Array): [number, number, number] {
  const v = new Float64Array(value.buffer.slice(value.byteOffset, value.byteOffset + 24));
  return [v[0]!, v[1]!, v[2]!];
}

export function encodeCount(count: number): Uint8Array {
  return new Uint8Array(Float64Array.of(count).buffer);
}

export function decodeCount(value: Uint8Array): number {
  return new Float64Array(value.buffer.slice(value.byteOffset, value.byteOffset + 8))[0]!;
}

/** Builds the `--out` document from the store's state and its committed row offset. */
export function resultFromState(state: Iterable<[string, Uint8Array]>, rows: number): DemoResult {
  const result: DemoResult = { rows, origins: {}, routes: {} };
  for (const [key, value] of state) {
    if (key.startsWith(ORIGIN_PREFIX)) {
      const [count, delaySum, delayMax] = decodeOrigin(value);
      result.origins[key.slice(ORIGIN_PREFIX.length)] = { count, delaySum, delayMax };
    } else if (key.startsWith(ROUTE_PREFIX)) {
      result.routes[key.slice(ROUTE_PREFIX.length)] = decodeCount(value);
    }
  }
  return canonicalResult(result);
}
