// Runs one API-fuzz sequence against a real data directory and checks, call by call, what the
// stores promise: every call settles within a bound; every error is a TidemarkError with a code
// the call may give (arguments refused as TIDEMARK_INVALID_ARGUMENT / TIDEMARK_LIMIT, before any
// state changes); what recovery finds is the model as of some point at or after the last
// acknowledgment (exactly the model after a clean close); and `verify` agrees with recovery.
import assert from 'node:assert/strict';
import { TidemarkError, type TidemarkErrorCode } from '../../src/errors.ts';
import { examineDataDirectory } from '../../src/recovery/examine-data-directory.ts';
import { type RecoveredState, RecoveryManager } from '../../src/recovery/index.ts';
import {
  commitVerdict,
  type ExtrasDesc,
  extrasVerdict,
  type KeyDesc,
  keyVerdict,
  makeExtras,
  makeKey,
  makeOffsets,
  makePosition,
  makeValue,
  makeWatermark,
  type OffsetsDesc,
  type PositionDesc,
  positionValid,
  putVerdict,
  type ValueDesc,
  type Verdict,
  type WatermarkDesc,
} from './api-fuzz-args.ts';
import { type EngineKind, type FuzzHandle, type OpenSpec, openHandle } from './api-fuzz-engines.ts';

export type SimpleOp =
  | { t: 'put'; key: KeyDesc; value: ValueDesc }
  | { t: 'delete'; key: KeyDesc }
  | { t: 'commit'; offsets: OffsetsDesc; watermark: WatermarkDesc }
  | { t: 'flushed'; pos: PositionDesc }
  | { t: 'durable' }
  | { t: 'checkpoint'; extras: ExtrasDesc }
  | { t: 'writable' }
  | { t: 'close'; twice: boolean };

export type Op =
  | SimpleOp
  | { t: 'burst'; n: number }
  | { t: 'crash-check' }
  | {
      t: 'race';
      first: 'close' | 'checkpoint' | 'durable';
      second: SimpleOp;
      delay: 'sync' | 'microtask' | 'macrotask';
    }
  | { t: 'reopen'; other: boolean };

export interface Sequence {
  spec: Omit<OpenSpec, 'dir'>;
  ops: Op[];
}

/** Bound on any one awaited call, ms. */
export const SETTLE_MS = 10_000;

/** What recovery must rebuild at one point of the sequence. */
interface Snapshot {
  pos: number;
  state: Map<string, string>;
  offsets: Record<string, number>;
  watermark: number | undefined;
}

const hex = (v: Uint8Array) => Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex');

export function within<T>(p: Promise<T>, what: string, ms = SETTLE_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`HANG: ${what} did not settle within ${ms} ms`)), ms);
  });
  return Promise.race([p, bound]).finally(() => clearTimeout(timer));
}

/** Codes seen, across every run of the file (printed at the end: what the fuzzer reached). */
export const codesSeen: Partial<Record<TidemarkErrorCode, number>> = {};

function checkError(err: unknown, allowed: readonly TidemarkErrorCode[], what: string): TidemarkErrorCode {
  if (!(err instanceof TidemarkError)) {
    assert.fail(`${what}: threw something that is not a TidemarkError: ${String(err)}`);
  }
  if (!allowed.includes(err.code)) {
    assert.fail(
      `${what}: ${err.code} (${err.message}); this call may only give ${allowed.join(', ') || 'success'}`,
    );
  }
  codesSeen[err.code] = (codesSeen[err.code] ?? 0) + 1;
  return err.code;
}

/** One sequence's run: the open store, the model, and what was acknowledged. */
export class FuzzRun {
  private h!: FuzzHandle;
  private closeStarted = false;
  private closeDone = false;
  private model = new Map<string, string>();
  private committed!: Snapshot;
  private history: Snapshot[] = [];
  private ackPos = 0;
  private lastCommitPos = 0;
  private changelogOpens = 0;
  readonly stats = { accepted: 0, refused: 0, reopens: 0, crashChecks: 0 };

  constructor(
    private readonly dir: string,
    private readonly spec: Omit<OpenSpec, 'dir'>,
    private readonly maxChangelogOpens: number,
  ) {}

  async run(ops: Op[]): Promise<void> {
    await this.open(this.spec.kind);
    try {
      for (const op of ops) await this.step(op);
    } catch (err) {
      // Release the directory (and Ring 1) before reporting; the first failure is what counts.
      await within(this.h.close(), 'close() after a failure').catch(() => {});
      throw err;
    }
    if (!this.closeDone) await this.closeOnce(false);
    await this.finalChecks();
  }

  // ── open / close / checks against recovery ─────────────────────────────────────────────────

  private expected(): Snapshot {
    const o = this.committed;
    return this.spec.transactional
      ? { pos: this.h.lastPosition, state: new Map(o.state), offsets: o.offsets, watermark: o.watermark }
      : { pos: this.h.lastPosition, state: new Map(this.model), offsets: o.offsets, watermark: o.watermark };
  }

  private assertRecovered(r: RecoveredState, want: Snapshot, what: string): void {
    const got = Object.fromEntries([...r.state].map(([k, v]) => [k, hex(v)]).sort());
    const exp = Object.fromEntries([...want.state].sort());
    assert.deepEqual(got, exp, `${what}: recovered state`);
    assert.deepEqual({ ...r.sourceOffsets }, { ...want.offsets }, `${what}: recovered source offsets`);
    assert.equal(r.watermark, want.watermark, `${what}: recovered watermark`);
  }

  private async open(kind: EngineKind): Promise<void> {
    const k = kind === 'changelog' && this.changelogOpens >= this.maxChangelogOpens ? 'simple' : kind;
    if (k === 'changelog') this.changelogOpens++;
    this.h = await within(openHandle({ ...this.spec, kind: k, dir: this.dir }), `open (${k})`);
    this.closeStarted = false;
    this.closeDone = false;
    const r = this.h.recovered;
    const snap: Snapshot = {
      pos: this.h.lastPosition,
      state: new Map([...r.state].map(([key, v]) => [key, hex(v)])),
      offsets: { ...r.sourceOffsets },
      watermark: r.watermark,
    };
    if (this.history.length > 0) this.assertRecovered(r, this.expected0, `reopen with the ${k} store`);
    this.model = new Map(snap.state);
    this.committed = snap;
    this.history = [snap];
    this.ackPos = snap.pos;
    this.lastCommitPos = snap.pos;
  }

  /** What the previous open's store must have left (set at each clean close). */
  private expected0!: Snapshot;

  private async closeOnce(twice: boolean): Promise<void> {
    this.closeStarted = true;
    const a = this.h.close();
    const b = twice ? this.h.close() : a;
    await within(a, 'close()');
    await within(b, 'second close()');
    this.onClosed();
  }

  private onClosed(): void {
    if (this.closeDone) return;
    this.closeDone = true;
    this.ackPos = this.h.lastPosition;
    this.expected0 = this.expected();
  }

  private async finalChecks(): Promise<void> {
    let recovered: RecoveredState | undefined;
    let error: unknown;
    try {
      recovered = await within(
        new RecoveryManager({ dir: this.dir, transactional: this.spec.transactional }).recover(),
        'recover() after the final close',
      );
    } catch (err) {
      error = err;
    }
    const report = await within(examineDataDirectory(this.dir), 'examineDataDirectory()');
    assert.equal(
      report.problems.length === 0,
      error === undefined,
      `verify and recovery disagree: verify found ${JSON.stringify(report.problems)}, recover() ${error === undefined ? 'succeeded' : `failed: ${String(error)}`}`,
    );
    if (error !== undefined) throw error;
    this.assertRecovered(recovered!, this.expected0, 'recovery after the final close');
  }

  /** Read-only recovery while the store is open: what a crash now would leave. */
  private async crashCheck(): Promise<void> {
    if (this.closeStarted) return;
    this.stats.crashChecks++;
    const r = await within(
      new RecoveryManager({ dir: this.dir, transactional: this.spec.transactional }).recover(),
      'read-only recover() of the open store',
    );
    // The newest snapshot at or below the acknowledged position, or any later one.
    let from = 0;
    for (let i = 0; i < this.history.length; i++) if (this.history[i]!.pos <= this.ackPos) from = i;
    const errors: string[] = [];
    for (let i = this.history.length - 1; i >= from; i--) {
      try {
        this.assertRecovered(r, this.history[i]!, 'crash check');
        return;
      } catch (err) {
        errors.push(String(err));
      }
    }
    assert.fail(
      `a crash now would lose acknowledged writes (acknowledged up to ${this.ackPos}): recovered ${JSON.stringify([...r.state])} matches no state from position ${this.history[from]!.pos} on; first mismatch: ${errors[0]}`,
    );
  }

  // ── the calls ──────────────────────────────────────────────────────────────────────────────

  private record(pos: number): void {
    const snap = this.expected();
    snap.pos = pos;
    if (!this.spec.transactional) this.history.push(snap);
  }

  /** Codes a well-formed mutation may still give. */
  private mutationCodes(): TidemarkErrorCode[] {
    const codes: TidemarkErrorCode[] = ['TIDEMARK_BACKPRESSURE'];
    if (this.closeStarted) codes.push('TIDEMARK_CLOSED');
    return codes;
  }

  /**
   * The value of `key` as hex (`get()` returns a copy, so values compare by content), or what
   * `get()` threw (a malformed key is refused by reads too).
   */
  private peek(key: string): string | undefined {
    try {
      const v = this.h.get(key);
      return v === undefined ? undefined : hex(v);
    } catch (err) {
      return `threw ${(err as { code?: string }).code}`;
    }
  }

  /** Runs a synchronous mutation; checks a refusal changed nothing. Returns the position, or undefined. */
  private mutate(what: string, verdict: Verdict, key: unknown, call: () => number): number | undefined {
    const before = {
      size: this.h.size,
      pos: this.h.lastPosition,
      value: typeof key === 'string' ? this.peek(key) : undefined,
      offsets: JSON.stringify(this.h.sourceOffsets),
      watermark: this.h.watermark,
    };
    let pos: number;
    try {
      pos = call();
    } catch (err) {
      const allowed: TidemarkErrorCode[] = verdict ? [verdict] : this.mutationCodes();
      // A well-formed commit can still be too big for a small ring's payload cap.
      if (!verdict && what.startsWith('commit') && this.h.kind === 'changelog')
        allowed.push('TIDEMARK_LIMIT');
      checkError(err, allowed, what);
      this.stats.refused++;
      assert.equal(this.h.size, before.size, `${what}: a refused call changed the state's size`);
      assert.equal(this.h.lastPosition, before.pos, `${what}: a refused call handed out a position`);
      if (typeof key === 'string')
        assert.equal(this.peek(key), before.value, `${what}: a refused call changed the key`);
      assert.equal(
        JSON.stringify(this.h.sourceOffsets),
        before.offsets,
        `${what}: a refused call changed offsets`,
      );
      assert.equal(this.h.watermark, before.watermark, `${what}: a refused call changed the watermark`);
      return undefined;
    }
    if (verdict) assert.fail(`${what}: accepted, but must be refused with ${verdict}`);
    if (this.closeDone) assert.fail(`${what}: accepted by a closed store (position ${pos})`);
    assert.ok(
      pos > before.pos && pos === this.h.lastPosition,
      `${what}: position ${pos} after ${before.pos}`,
    );
    this.stats.accepted++;
    return pos;
  }

  private put(keyD: KeyDesc, valueD: ValueDesc): void {
    const key = makeKey(keyD);
    const value = makeValue(valueD);
    const what = `put(${JSON.stringify(keyD)}, ${JSON.stringify(valueD)})`;
    const pos = this.mutate(what, putVerdict(key, value, this.h.maxPutPayloadBytes), key, () =>
      this.h.put(key, value),
    );
    if (pos === undefined) return;
    const v = value as Uint8Array;
    this.model.set(key as string, hex(v));
    assert.equal(hex(this.h.get(key as string)!), hex(v), `${what}: get() after put`);
    assert.equal(this.h.size, this.model.size, `${what}: size after put`);
    this.record(pos);
  }

  private del(keyD: KeyDesc): void {
    const key = makeKey(keyD);
    const what = `delete(${JSON.stringify(keyD)})`;
    const pos = this.mutate(what, keyVerdict(key, this.h.maxPutPayloadBytes, true), key, () =>
      this.h.delete(key),
    );
    if (pos === undefined) return;
    this.model.delete(key as string);
    assert.equal(this.h.get(key as string), undefined, `${what}: get() after delete`);
    assert.equal(this.h.size, this.model.size, `${what}: size after delete`);
    this.record(pos);
  }

  private commit(offsetsD: OffsetsDesc, watermarkD: WatermarkDesc): void {
    const offsets = makeOffsets(offsetsD);
    const watermark = makeWatermark(watermarkD);
    const what = `commit(${JSON.stringify(offsetsD)}, ${JSON.stringify(watermarkD)})`;
    const pos = this.mutate(what, commitVerdict(offsets, watermark), undefined, () =>
      this.h.commit(offsets, watermark),
    );
    if (pos === undefined) return;
    const merged = { ...this.committed.offsets, ...(offsets as Record<string, number>) };
    this.committed = {
      pos,
      state: new Map(this.model),
      offsets: merged,
      watermark: (watermark as number | undefined) ?? this.committed.watermark,
    };
    assert.deepEqual({ ...this.h.sourceOffsets }, merged, `${what}: sourceOffsets after commit`);
    this.lastCommitPos = pos;
    if (this.spec.transactional) this.history.push({ ...this.committed, state: new Map(this.model) });
    else this.record(pos);
  }

  /** Awaits an async call: it must settle; a rejection must carry one of `allowed`. */
  private async settle(what: string, p: Promise<unknown>, allowed: TidemarkErrorCode[]): Promise<boolean> {
    try {
      await within(p, what);
      return true;
    } catch (err) {
      if (err instanceof Error && err.message.startsWith('HANG:')) throw err;
      checkError(err, allowed, what);
      return false;
    }
  }

  private closedCodes(): TidemarkErrorCode[] {
    return this.closeStarted ? ['TIDEMARK_CLOSED'] : [];
  }

  private async runSimple(op: SimpleOp): Promise<void> {
    switch (op.t) {
      case 'put':
        return this.put(op.key, op.value);
      case 'delete':
        return this.del(op.key);
      case 'commit':
        return this.commit(op.offsets, op.watermark);
      case 'flushed': {
        const last = this.h.lastPosition;
        const p = makePosition(op.pos, last, this.lastCommitPos);
        const valid = positionValid(p, last);
        const what = `flushed(${JSON.stringify(op.pos)} = ${String(p)})`;
        const ok = await this.settle(
          what,
          this.h.flushed(p),
          valid ? this.closedCodes() : ['TIDEMARK_INVALID_ARGUMENT'],
        );
        if (ok && !valid) assert.fail(`${what}: resolved, but must be refused (last position ${last})`);
        if (ok) this.ackPos = Math.max(this.ackPos, p as number);
        return;
      }
      case 'durable': {
        const last = this.h.lastPosition;
        const ok = await this.settle('durable()', this.h.durable(), this.closedCodes());
        if (ok && this.closeDone) assert.fail('durable() resolved on a closed store');
        if (ok) this.ackPos = Math.max(this.ackPos, last);
        return;
      }
      case 'checkpoint': {
        const verdict = extrasVerdict(op.extras);
        const what = `checkpoint(${op.extras})`;
        const codes = this.closedCodes();
        if (verdict !== 'accepted') codes.push('TIDEMARK_INVALID_ARGUMENT');
        const ok = await this.settle(what, this.h.checkpoint(makeExtras(op.extras)), codes);
        if (ok && this.closeDone) assert.fail(`${what} resolved on a closed store`);
        if (ok && verdict === 'refused') assert.fail(`${what} resolved, but must be refused`);
        return;
      }
      case 'writable':
        await this.settle('writable()', this.h.writable(), this.closedCodes());
        return;
      case 'close':
        return this.closeOnce(op.twice);
    }
  }

  private async step(op: Op): Promise<void> {
    switch (op.t) {
      case 'burst':
        for (let i = 0; i < op.n; i++) this.put({ pool: i % 4 }, { bytes: 200, fill: i });
        return;
      case 'crash-check':
        return this.crashCheck();
      case 'reopen':
        if (!this.closeDone) await this.closeOnce(false);
        this.stats.reopens++;
        return this.open(op.other === (this.h.kind === 'simple') ? 'changelog' : 'simple');
      case 'race': {
        const first: SimpleOp =
          op.first === 'close'
            ? { t: 'close', twice: false }
            : op.first === 'checkpoint'
              ? { t: 'checkpoint', extras: 'undefined' }
              : { t: 'durable' };
        const a = this.runSimple(first);
        if (op.delay === 'microtask') await Promise.resolve();
        else if (op.delay === 'macrotask') await new Promise((r) => setImmediate(r));
        const b = this.runSimple(op.second);
        await Promise.all([a, b]);
        return;
      }
      default:
        return this.runSimple(op);
    }
  }
}
