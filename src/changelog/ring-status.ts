/**
 * The words Ring 1 publishes to Ring 0 through the shared control block: the durable watermark
 * (a changelog sequence and its WAL LSN), the ring's state, the current epoch, Ring 1's failure
 * (as JSON in the error area) and Ring 1's counters.
 */
import { TidemarkError, type TidemarkErrorCode } from '../errors.js';
import {
  RING_DURABLE_LSN_BIGWORD,
  RING_DURABLE_SEQUENCE_BIGWORD,
  RING_EPOCH_WORD,
  RING_ERROR_LENGTH_WORD,
  RING_HEAD_WORD,
  RING_STATE_WORD,
  RING_TAIL_WORD,
  RingState,
} from '../format/constants.js';
import type { StateChangelogBuffer } from './state-changelog-buffer.js';

/** Every changelog entry with sequence ≤ the returned value is durable. */
export function loadDurableSequence(buffer: StateChangelogBuffer): number {
  return Number(Atomics.load(buffer.control64, RING_DURABLE_SEQUENCE_BIGWORD));
}

/** The WAL LSN of the last record made durable by Ring 1. */
export function loadDurableLsn(buffer: StateChangelogBuffer): number {
  return Number(Atomics.load(buffer.control64, RING_DURABLE_LSN_BIGWORD));
}

/** Ring 1: publishes a new durable watermark and wakes every Ring 0 waiter. */
export function publishDurable(buffer: StateChangelogBuffer, sequence: number, lsn: number): void {
  Atomics.store(buffer.control64, RING_DURABLE_LSN_BIGWORD, BigInt(lsn));
  Atomics.store(buffer.control64, RING_DURABLE_SEQUENCE_BIGWORD, BigInt(sequence));
  Atomics.notify(buffer.control64, RING_DURABLE_SEQUENCE_BIGWORD);
}

/** The epoch Ring 0 stamps on entries and commits. */
export function loadEpoch(buffer: StateChangelogBuffer): number {
  return Atomics.load(buffer.control, RING_EPOCH_WORD);
}

/** Ring 1 (or the opener, before Ring 1 starts): sets the epoch. */
export function storeEpoch(buffer: StateChangelogBuffer, epoch: number): void {
  Atomics.store(buffer.control, RING_EPOCH_WORD, epoch);
}

/** The ring's state (`RingState`). */
export function loadRingState(buffer: StateChangelogBuffer): number {
  return Atomics.load(buffer.control, RING_STATE_WORD);
}

/** Sets the ring's state and wakes everyone who waits on the ring. */
export function storeRingState(buffer: StateChangelogBuffer, state: number): void {
  Atomics.store(buffer.control, RING_STATE_WORD, state);
  wakeAll(buffer);
}

function wakeAll(buffer: StateChangelogBuffer): void {
  Atomics.notify(buffer.control64, RING_DURABLE_SEQUENCE_BIGWORD);
  Atomics.notify(buffer.control, RING_TAIL_WORD);
  Atomics.notify(buffer.control, RING_HEAD_WORD);
}

/**
 * Ring 1: records `err` in the error area and moves the ring to `Failed` (final). Ring 0 reads it
 * back with {@link loadRingFailure}. Only the first failure is kept.
 */
export function publishFailure(buffer: StateChangelogBuffer, err: unknown): void {
  if (loadRingState(buffer) === RingState.Failed) return;
  const e =
    err instanceof TidemarkError
      ? err
      : new TidemarkError(
          'TIDEMARK_IO',
          `Ring 1 failed: ${err instanceof Error ? err.message : String(err)}`,
          {
            cause: err,
          },
        );
  const json = JSON.stringify({ code: e.code, message: e.message, path: e.path, offset: e.offset });
  const { written } = new TextEncoder().encodeInto(json, buffer.errorArea);
  Atomics.store(buffer.control, RING_ERROR_LENGTH_WORD, written);
  storeRingState(buffer, RingState.Failed);
}

/** Ring 0: the failure Ring 1 published, as a `TidemarkError`, or undefined while it runs. */
export function loadRingFailure(buffer: StateChangelogBuffer): TidemarkError | undefined {
  if (loadRingState(buffer) !== RingState.Failed) return undefined;
  const length = Atomics.load(buffer.control, RING_ERROR_LENGTH_WORD);
  let parsed: { code?: TidemarkErrorCode; message?: string; path?: string; offset?: number } = {};
  try {
    parsed = JSON.parse(new TextDecoder().decode(buffer.errorArea.slice(0, length)));
  } catch {
    // A message cut at the area's end: keep the generic error below.
  }
  const details: { path?: string; offset?: number } = {};
  if (parsed.path !== undefined) details.path = parsed.path;
  if (parsed.offset !== undefined) details.offset = parsed.offset;
  return new TidemarkError(
    parsed.code ?? 'TIDEMARK_IO',
    `Ring 1 (the I/O worker) failed and the store is read-only: ${parsed.message ?? 'unknown error'}`,
    details,
  );
}
