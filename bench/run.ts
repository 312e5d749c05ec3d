import { main, UsageError } from "../cli/args.js";
import { benchPgbouncerCpu } from "./pgbouncer-cpu.js";
import { benchResilience } from "./resilience.js";

/** npm run bench -- <name>: benchmarks that print ratios measured in the same run. */
const BENCHES: Record<string, () => Promise<void>> = {
  resilience: benchResilience,
  "pgbouncer-cpu": benchPgbouncerCpu,
};

await main(async () => {
  const name = process.argv[2] ?? "";
  const bench = BENCHES[name];
  if (!bench)
    throw new UsageError(
      `usage: npm run bench -- ${Object.keys(BENCHES).join(" | ")} (got ${JSON.stringify(name)})`,
    );
  await bench();
});
