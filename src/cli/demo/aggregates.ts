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

/** The store operations a fold needs. */
export interface FoldTarget {
  get(key: string): Uint8Array | undefined;
  put(key: string, value: Uint8Array): unknown;
}

const originDelta = new Map<string, [number, number, number]>();
const routeDelta = new Map<string, number>();

/** Flights as parallel columns (no object per row): row `i` is `origins[i]`, `destinations[i]`, `delays[i]`. */
export interface FlightColumns {
  origins: readonly string[];
  destinations: readonly string[];
  /** Arrival delay, minutes. */
  delays: readonly (number | bigint)[];
}

/**
 * Folds rows [from, to) of `columns` (default: all of them) into the aggregates of `target`: per
 * origin count, delay sum and maximum; per route a count. One put per touched key.
 */
export function foldFlights(
  columns: FlightColumns,
  target: FoldTarget,
  range: { from: number; to: number } = { from: 0, to: columns.origins.length },
): void {
  const { origins, destinations, delays } = columns;
  const { from, to } = range;
  originDelta.clear();
  routeDelta.clear();
  for (let i = from; i < to; i++) {
    const delay = Number(delays[i]);
    const o = originDelta.get(origins[i]!);
    if (o) {
      o[0]++;
      o[1] += delay;
      if (delay > o[2]) o[2] = delay;
    } else originDelta.set(origins[i]!, [1, delay, delay]);
    const route = `${origins[i]}-${destinations[i]}`;
    routeDelta.set(route, (routeDelta.get(route) ?? 0) + 1);
  }
  for (const [origin, [count, sum, max]] of originDelta) {
    const key = ORIGIN_PREFIX + origin;
    const old = target.get(key);
    if (old) {
      const [c, s, m] = decodeOrigin(old);
      target.put(key, encodeOrigin(c + count, s + sum, Math.max(m, max)));
    } else target.put(key, encodeOrigin(count, sum, max));
  }
  for (const [route, count] of routeDelta) {
    const key = ROUTE_PREFIX + route;
    const old = target.get(key);
    target.put(key, encodeCount((old ? decodeCount(old) : 0) + count));
  }
}
