/**
 * The demo's source and its aggregation: the 3,000,000 US flights of H1 2001 from
 * `vega-datasets` (data/flights-3m.parquet), read with hyparquet.
 */
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { TidemarkError } from '../../errors.js';
import { importOptional, isMissingPackage, missingDependency } from '../../io/optional-dependency.js';

/*
 * The data set (42 MB) and the parquet reader are development dependencies: a clone of this
 * repository has them after `npm install`, a project that installed tidemark from the registry
 * does not, and its `tidemark demo` says so with TIDEMARK_MISSING_DEPENDENCY.
 */
const DEMO_INSTALL = 'npm install in a clone of tidemark (they are its devDependencies)';

/** The parquet reader and its decompressors, imported on first use. */
async function parquet(): Promise<
  typeof import('hyparquet') & { compressors: typeof import('hyparquet-compressors')['compressors'] }
> {
  const neededFor = 'tidemark demo (reading the flights parquet file)';
  const [reader, { compressors }] = await Promise.all([
    importOptional({ name: 'hyparquet', neededFor, install: DEMO_INSTALL, load: () => import('hyparquet') }),
    importOptional({
      name: 'hyparquet-compressors',
      neededFor,
      install: DEMO_INSTALL,
      load: () => import('hyparquet-compressors'),
    }),
  ]);
  return { ...reader, compressors };
}

/** Path of the parquet file inside the installed `vega-datasets` package. */
export function flightsPath(): string {
  // The package's `exports` hides data/, so locate it beside the resolved entry (build/index.js).
  const require = createRequire(import.meta.url);
  let entry: string;
  try {
    entry = require.resolve('vega-datasets');
  } catch (err) {
    if (!isMissingPackage(err, 'vega-datasets')) throw err;
    throw missingDependency(
      { name: 'vega-datasets', neededFor: 'tidemark demo (its flights data set)', install: DEMO_INSTALL },
      err,
    );
  }
  const file = path.join(path.dirname(entry), '..', 'data', 'flights-3m.parquet');
  if (!fs.existsSync(file)) {
    throw new TidemarkError(
      'TIDEMARK_NOT_FOUND',
      `${file} is missing: run npm install (vega-datasets@3.2.1)`,
      { path: file },
    );
  }
  return file;
}

/** One flight: departure time (ms since epoch), delay (minutes), origin and destination airports. */
export interface Flight {
  dateMs: number;
  delay: number;
  origin: string;
  destination: string;
}

/** Per-origin aggregate. */
export interface OriginAggregate {
  count: number;
  delaySum: number;
  delayMax: number;
}

/** The demo's `--out` document. */
export interface DemoResult {
  rows: number;
  origins: Record<string, OriginAggregate>;
  routes: Record<string, number>;
}

/** Row count of the file. */
export async function flightsRowCount(path = flightsPath()): Promise<number> {
  const { asyncBufferFromFile, parquetMetadataAsync } = await parquet();
  const file = await asyncBufferFromFile(path);
  return Number((await parquetMetadataAsync(file)).num_rows);
}

/** A run of flights read from the file, as columns; row `i` of it is row `firstRow + i` of the file. */
export interface FlightChunk {
  /** The file row of the chunk's first row. */
  firstRow: number;
  dates: Date[];
  /** Arrival delay, minutes. */
  delays: bigint[];
  origins: string[];
  destinations: string[];
}

/** Which flights {@link readFlights} reads. */
export interface ReadFlightsOptions {
  /** First row, inclusive. */
  start: number;
  /** Last row, exclusive. */
  end: number;
  /** The parquet file (default: the vega-datasets copy, {@link flightsPath}). */
  path?: string | undefined;
}

/**
 * Calls `onChunk` with the flights in [start, end), a row group at a time (columnar arrays, so
 * no object per row), in order.
 */
export async function readFlights(
  options: ReadFlightsOptions,
  onChunk: (chunk: FlightChunk) => Promise<void>,
): Promise<void> {
  const { start, end, path = flightsPath() } = options;
  const { asyncBufferFromFile, parquetMetadataAsync, parquetRead, compressors } = await parquet();
  const file = await asyncBufferFromFile(path);
  const metadata = await parquetMetadataAsync(file);
  let groupStart = 0;
  for (const group of metadata.row_groups) {
    const groupEnd = groupStart + Number(group.num_rows);
    const from = Math.max(start, groupStart);
    const to = Math.min(end, groupEnd);
    if (from < to) {
      let rows: unknown[][] = [];
      await parquetRead({
        file,
        metadata,
        compressors,
        columns: ['date', 'delay', 'origin', 'destination'],
        rowStart: from,
        rowEnd: to,
        onComplete: (r: unknown[][]) => {
          rows = r;
        },
      });
      const n = rows.length;
      const dates = new Array<Date>(n);
      const delays = new Array<bigint>(n);
      const origins = new Array<string>(n);
      const destinations = new Array<string>(n);
      for (let i = 0; i < n; i++) {
        const row = rows[i]!;
        dates[i] = row[0] as Date;
        delays[i] = row[1] as bigint;
        origins[i] = row[2] as string;
        destinations[i] = row[3] as string;
      }
      rows = [];
      await onChunk({ firstRow: from, dates, delays, origins, destinations });
    }
    groupStart = groupEnd;
    if (groupStart >= end) break;
  }
}

/** Sorts a result's maps by key so equal results serialize identically. */
export function canonicalResult(result: DemoResult): DemoResult {
  const origins: Record<string, OriginAggregate> = {};
  for (const k of Object.keys(result.origins).sort()) origins[k] = result.origins[k]!;
  const routes: Record<string, number> = {};
  for (const k of Object.keys(result.routes).sort()) routes[k] = result.routes[k]!;
  return { rows: result.rows, origins, routes };
}

/** The reference: a plain in-memory fold over rows [0, limit), one row at a time, no crashes. */
export async function referenceResult(limit: number, path = flightsPath()): Promise<DemoResult> {
  const result: DemoResult = { rows: 0, origins: {}, routes: {} };
  await readFlights({ start: 0, end: limit, path }, async ({ delays, origins, destinations }) => {
    for (let i = 0; i < origins.length; i++) {
      const delay = Number(delays[i]);
      const o = (result.origins[origins[i]!] ??= {
        count: 0,
        delaySum: 0,
        delayMax: Number.NEGATIVE_INFINITY,
      });
      o.count++;
      o.delaySum += delay;
      if (delay > o.delayMax) o.delayMax = delay;
      const route = `${origins[i]}-${destinations[i]}`;
      result.routes[route] = (result.routes[route] ?? 0) + 1;
      result.rows++;
    }
  });
  return canonicalResult(result);
}
