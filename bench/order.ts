/**
 * Round r's order of n variants, a row of a Williams square: over n rounds every variant runs in
 * every position once and follows every other variant exactly once (for even n). What a variant
 * leaves behind (in the resilience bench, the outcome check's variants slow the next one down for seconds) then weighs on
 * each variant alike, and drift in the machine's load too. A plain rotation always ran the
 * check-off variants right after their check-on siblings.
 */
export function williamsRow(n: number, r: number): number[] {
  const base = Array.from({ length: n }, (_, k) =>
    k === 0 ? 0 : k % 2 === 1 ? (k + 1) / 2 : n - k / 2,
  );
  return base.map((b) => (b + r) % n);
}
