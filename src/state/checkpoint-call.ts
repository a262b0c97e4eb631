/**
 * The argument of `store.checkpoint(…)` on both stores: the older form passes the extras
 * themselves (`checkpoint({ connectors, operators })`), the options form passes
 * `checkpoint({ extras, signal })`. They are told apart by the options form's own keys
 * (`extras`, `signal`, `forceBase`), none of which is an extras field; an object mixing both
 * kinds is refused rather than guessed at. Without this, `checkpoint({ signal })` would be read
 * as extras with no connectors — silently dropping the connectors the last checkpoint carried.
 */
import { abortSignalOf } from '../abort-steps.js';
import type { CheckpointExtras } from '../format/checkpoint-manifest.js';
import { checkCheckpointExtras, invalidArgument } from '../validation.js';

/** Options of `checkpoint()` on either store. */
export interface CheckpointCallOptions {
  /**
   * Connectors, operators, sinks, watermarks for this checkpoint (see `CheckpointExtras`);
   * without them the previous ones are carried forward.
   */
  extras?: CheckpointExtras | undefined;
  /**
   * Abandons the checkpoint once aborted, if it has not reached its publish point (its manifest
   * being committed): the draft is removed, no WAL is deleted, the next checkpoint works, and
   * the call rejects with `TIDEMARK_ABORTED` (`cause` = `signal.reason`). A checkpoint already
   * past its publish point completes and resolves as usual. Already aborted: it rejects before
   * anything is written. Default: none.
   */
  signal?: AbortSignal | undefined;
}

/** The options form's keys (`forceBase` only where the store has it). */
const OPTION_KEYS = ['extras', 'signal', 'forceBase'] as const;

/** What a `checkpoint()` argument asks for. */
export interface CheckpointCall {
  extras: CheckpointExtras | undefined;
  signal: AbortSignal | undefined;
  forceBase: boolean | undefined;
}

/**
 * Reads `value`, the first argument of `checkpoint()`: `undefined`, the extras, or a
 * {@link CheckpointCallOptions} (plus `forceBase` when `allowForceBase`). Throws
 * `TIDEMARK_INVALID_ARGUMENT` (naming `argument`) for anything malformed, before anything runs.
 */
export function parseCheckpointCall(
  argument: string,
  value: unknown,
  allowForceBase: boolean,
): CheckpointCall {
  if (value === undefined) return { extras: undefined, signal: undefined, forceBase: undefined };
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw invalidArgument(argument, value, 'an object or undefined');
  const keys = Object.keys(value);
  const isOptions = keys.some((k) => (OPTION_KEYS as readonly string[]).includes(k));
  if (!isOptions) {
    checkCheckpointExtras(`${argument}`, value);
    return { extras: value as CheckpointExtras, signal: undefined, forceBase: undefined };
  }
  const allowed = allowForceBase ? OPTION_KEYS : OPTION_KEYS.filter((k) => k !== 'forceBase');
  for (const k of keys) {
    if (!(allowed as readonly string[]).includes(k))
      throw invalidArgument(
        `${argument}.${k}`,
        (value as Record<string, unknown>)[k],
        `absent: the options form takes ${allowed.join(', ')} (pass extras as { extras: { … } })`,
      );
  }
  const o = value as CheckpointCallOptions & { forceBase?: unknown };
  checkCheckpointExtras(`${argument}.extras`, o.extras);
  const signal = abortSignalOf(argument, o);
  if (o.forceBase !== undefined && typeof o.forceBase !== 'boolean')
    throw invalidArgument(`${argument}.forceBase`, o.forceBase, 'a boolean or undefined');
  return { extras: o.extras, signal, forceBase: o.forceBase as boolean | undefined };
}
