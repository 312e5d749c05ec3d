import { readFileSync } from "node:fs";
import { expect, test } from "vitest";
import { metricSpec } from "./catalogue.js";
import { PGBOUNCER_METRICS } from "./pgbouncer-columns.js";

test("every PgBouncer metric the rules and dashboards name is one the exporter serves", () => {
  for (const name of Object.values(PGBOUNCER_METRICS)) expect(metricSpec(name).name).toBe(name);
});

test("the rules, dashboards and tuning queries write no PgBouncer metric name of their own", () => {
  for (const file of [
    "alert-rules.ts",
    "dashboard-context.ts",
    "dashboard-services.ts",
    "dashboard-specs.ts",
    "tuning-queries.ts",
  ]) {
    const text = readFileSync(new URL(file, import.meta.url), "utf8");
    expect(text.match(/\bpgbouncer_(?!exporter\b)[a-z_]+\b/g) ?? [], file).toEqual([]);
  }
});
