import pg from "pg";
import { localProfiles } from "../local/tls.js";
import { readSecrets } from "../local/secrets.js";
import { stackDown, stackStatus, stackUp } from "../local/stack.js";
import { createDatabase, tlsOptions } from "../resilience/index.js";
import { localPlan } from "../local/lines.js";

/**
 * npm run bench -- resilience: the wrapped path (createDatabase) against a raw pg.Pool on the
 * same target, in the same run, alternating rounds so machine noise hits both alike. Prints the
 * throughput ratio (goal ≥ 0.97) and the latency the wrapper adds at p50.
 */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 4);
const ROUND_MS = Number(process.env.BENCH_ROUND_MS ?? 3000);

type Query = () => Promise<unknown>;

async function round(query: Query, workers: number): Promise<{ ops: number; latencies: number[] }> {
  const latencies: number[] = [];
  const end = performance.now() + ROUND_MS;
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now();
        await query();
        latencies.push(performance.now() - t0);
      }
    }),
  );
  return { ops: latencies.length, latencies };
}

const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

export async function benchResilience(): Promise<void> {
  const plan = localPlan();
  const startedHere = !(await stackStatus(plan)).up;
  if (startedHere) await stackUp(plan);
  try {
    const secrets = await readSecrets();
    const profile = localProfiles(plan).find((p) => p.service === "orders")!;
    const password = secrets.accounts.orders!.password;
    const workers = profile.rw.poolMax;
    const raw = new pg.Pool({
      host: profile.rw.host,
      port: profile.rw.port,
      database: profile.rw.database,
      user: profile.rw.user,
      password,
      max: workers,
      ssl: tlsOptions(profile),
    });
    const db = createDatabase(profile, { password });
    const rawQuery: Query = () => raw.query("SELECT 1");
    const wrappedQuery: Query = () => db.write("SELECT 1");
    await round(rawQuery, workers); // warm both pools and PgBouncer's
    await round(wrappedQuery, workers);
    const totals = {
      raw: { ops: 0, lat: [] as number[] },
      wrapped: { ops: 0, lat: [] as number[] },
    };
    for (let i = 0; i < ROUNDS; i++) {
      for (const [name, q] of i % 2 === 0
        ? ([
            ["raw", rawQuery],
            ["wrapped", wrappedQuery],
          ] as const)
        : ([
            ["wrapped", wrappedQuery],
            ["raw", rawQuery],
          ] as const)) {
        const r = await round(q, workers);
        totals[name].ops += r.ops;
        totals[name].lat.push(...r.latencies);
        console.log(
          `  round ${i + 1} ${name.padEnd(7)} ${(r.ops / (ROUND_MS / 1000)).toFixed(0)} ops/s, p50 ${p50(r.latencies).toFixed(3)} ms`,
        );
      }
    }
    const seconds = (ROUNDS * ROUND_MS) / 1000;
    const ratio = totals.wrapped.ops / totals.raw.ops;
    console.log(
      `\nresilience bench: orders primary through PgBouncer, ${workers} concurrent callers, ${ROUNDS} × ${ROUND_MS / 1000}s each`,
    );
    console.log(
      `  raw pg.Pool       ${(totals.raw.ops / seconds).toFixed(0)} ops/s, p50 ${p50(totals.raw.lat).toFixed(3)} ms`,
    );
    console.log(
      `  createDatabase    ${(totals.wrapped.ops / seconds).toFixed(0)} ops/s, p50 ${p50(totals.wrapped.lat).toFixed(3)} ms`,
    );
    console.log(`  throughput ratio  ${ratio.toFixed(3)} (goal ≥ 0.97)`);
    console.log(
      `  added p50         ${(p50(totals.wrapped.lat) - p50(totals.raw.lat)).toFixed(3)} ms per call`,
    );
    await raw.end();
    await db.close();
  } finally {
    if (startedHere) await stackDown(plan);
  }
}
