import { describe, expect, test } from "vitest";
import { rawStack, withField } from "../platform/fixtures.js";
import { buildPlan } from "../platform/plan.js";
import { validateStackConfig } from "../platform/validate.js";
import { assessBudget } from "./budget.js";
import { editFile, rendered, setEntryParam } from "./fixtures.js";
import { iniCopies } from "./host-files.js";
import { checkOpenFiles } from "./open-files.js";
import { DEFAULT_POLICY_CONFIG, runRules, violationsOf } from "./rules.js";

/**
 * Hosts of two PgBouncer processes (prod with processesPerHost 2): the rules read every process's
 * own ini and unit, from every copy (rendered, user-data), and the budget sums the processes.
 */
const two = buildPlan(
  validateStackConfig(withField(rawStack("prod"), "pgbouncer.processesPerHost", 2)),
);
const facts = rendered(two);
const required = (f: typeof facts, node: string) =>
  assessBudget(f, two).budgets.find((b) => b.node.node === node)!.budget.required;

describe("the policy pack on hosts of two processes", () => {
  test("every rule passes the rendered files and user-data of both processes", () => {
    expect(violationsOf(runRules(facts, two)).map((v) => v.message)).toEqual([]);
  });

  test("each process's ini is read from each copy, with its own unit", () => {
    const host = iniCopies(facts).filter((c) => c.host === "pgbouncer-1");
    expect(host.map((c) => `${c.source} ${c.process} ${c.unit}`)).toEqual([
      "rendered 1 pgbouncer.service",
      "rendered 2 pgbouncer-2.service",
      "user-data 1 pgbouncer.service",
      "user-data 2 pgbouncer-2.service",
    ]);
  });

  test("the budget sums the processes: process 2's cap raised by hand counts on its node", () => {
    const before = required(facts, "primary");
    expect(before).toBe(two.budget.find((b) => b.node === "primary")!.required);
    const edited = editFile(facts, "pgbouncer-1", "rendered", "pgbouncer-2.ini", (t) =>
      setEntryParam(t, "orders", "max_db_connections", 59),
    );
    const orders = two.entries.find((e) => e.name === "orders")!;
    expect(required(edited, "primary")).toBe(before + 59 - orders.maxDbConnections);
  });

  test("process 2's unit with too few descriptors is named", () => {
    const edited = editFile(facts, "pgbouncer-3", "user-data", "pgbouncer-2.service", (t) =>
      t.replace(/^LimitNOFILE=.*$/m, "LimitNOFILE=512"),
    );
    const messages = checkOpenFiles(edited, DEFAULT_POLICY_CONFIG).map((f) => f.message);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatch(
      /^rendered pgbouncer-3\/user-data\.yaml write_files \/etc\/pgbouncer\/pgbouncer-2\.ini: max_client_conn must be ≤ -?\d+ = LimitNOFILE 512 \(rendered pgbouncer-3\/user-data\.yaml write_files \/etc\/systemd\/system\/pgbouncer-2\.service\)/,
    );
  });
});
