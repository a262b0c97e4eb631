// The deterministic workload of the checkpoint kill-point test, shared by the child that runs it
// and the test that checks the recovered state against it.

/** The mutations of round `r`: puts and deletes over 300 keys, ~200 per round. */
export function roundOps(r: number): ({ put: string; value: string } | { del: string })[] {
  const ops: ({ put: string; value: string } | { del: string })[] = [];
  for (let i = 0; i < 200; i++) {
    ops.push({ put: `k${(r * 37 + i * 13) % 300}`, value: `r${r}-${i}` });
    if (i % 7 === 0) ops.push({ del: `k${(r * 11 + i) % 300}` });
  }
  // Later rounds touch few keys, so most checkpoints are deltas.
  return r < 1 ? ops : ops.slice(0, 12);
}

/** The state after rounds 0..last. */
export function modelAfter(last: number): Record<string, string> {
  const m = new Map<string, string>();
  for (let r = 0; r <= last; r++) {
    for (const op of roundOps(r)) {
      if ('put' in op) m.set(op.put, op.value);
      else m.delete(op.del);
    }
  }
  return Object.fromEntries([...m].sort());
}
