/**
 * How the resilience bench drives its variants: `workers` callers, each running its calls back to
 * back (a closed loop, as a busy service's request handlers do).
 */
export type Query = () => Promise<unknown>;

/** One variant alone for `ms`: its throughput over the time the calls took, and their latencies. */
export async function runAlone(
  query: Query,
  workers: number,
  ms: number,
): Promise<{ opsPerSecond: number; latencies: number[] }> {
  const latencies: number[] = [];
  const start = performance.now();
  const end = start + ms;
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now();
        await query();
        latencies.push(performance.now() - t0);
      }
    }),
  );
  // the last calls end after `end`: their time counts, so no variant gains from its tail
  return { opsPerSecond: latencies.length / ((performance.now() - start) / 1000), latencies };
}

/**
 * Two variants interleaved call by call for `ms`: every caller alternates them (half the callers
 * start with each), so both meet the machine in the same state at every moment, and a load spike
 * from outside lands on both alike. Returns each variant's latencies. In a closed loop a caller's
 * throughput is the inverse of its mean latency (Little's law), so mean(a) / mean(b) is b's
 * throughput against a's, under identical conditions.
 */
export async function interleaved(
  a: Query,
  b: Query,
  workers: number,
  ms: number,
): Promise<[number[], number[]]> {
  const latencies: [number[], number[]] = [[], []];
  const queries = [a, b];
  const end = performance.now() + ms;
  await Promise.all(
    Array.from({ length: workers }, async (_, worker) => {
      for (let i = worker % 2; performance.now() < end; i ^= 1) {
        const t0 = performance.now();
        await queries[i]!();
        latencies[i]!.push(performance.now() - t0);
      }
    }),
  );
  return latencies;
}

/**
 * The client's own CPU per call (user and system, every thread of this process), for one variant
 * run alone: what the calling service's host pays. Here that host is the same two cores the
 * database runs on; in production it is not.
 */
export async function clientCpuPerCall(query: Query, workers: number, ms: number): Promise<number> {
  const before = process.cpuUsage();
  const { latencies } = await runAlone(query, workers, ms);
  const used = process.cpuUsage(before);
  return (used.user + used.system) / latencies.length;
}

export const mean = (xs: readonly number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
