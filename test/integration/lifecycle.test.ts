import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { promisify } from "node:util";
import { expect, test } from "vitest";
import { buildPlan } from "../../platform/plan.js";
import { isPortFree } from "../../local/daemons.js";
import { connect, pgbouncerTarget } from "../../local/connect.js";
import { LOCAL_LINES, localPlan } from "../../local/lines.js";
import { startProblem, upHost } from "../../local/pgbouncer.js";
import { rawStack, withField } from "../../platform/fixtures.js";
import { validateStackConfig } from "../../platform/validate.js";
import { readSecrets } from "../../local/secrets.js";
import { stackDown, stackUp } from "../../local/stack.js";
import { localLayout, PRIMARY_ADDRESS } from "../../local/topology.js";
import { stateDir } from "../../local/state-dir.js";
import { admin, as, plan, secrets } from "./helpers.js";

/**
 * The local stack's life cycle. Every test leaves the stack up, as the global setup made it, so
 * file order does not matter.
 */
const run = promisify(execFile);

async function leftovers(): Promise<string[]> {
  const { stdout } = await run("ps", ["-eo", "pid,args"]);
  return stdout.split("\n").filter((l) => l.includes(stateDir()) && !l.includes(" ps "));
}

test("up on a running stack changes nothing", async () => {
  const lines: string[] = [];
  await stackUp(plan, (l) => lines.push(l));
  expect(lines.filter((l) => l.startsWith("pgbouncer-"))).toEqual(
    plan.hosts.map(
      (h) => `${h.name} ${localLayout(h).listenAddr}:${plan.config.pgbouncer.port}: unchanged`,
    ),
  );
});

test("a changed reloadable setting reaches the running host by RELOAD, without dropping a client", async () => {
  const host = plan.hosts[0]!;
  const client = await as(host, "orders");
  try {
    const changed = localPlan();
    changed.config.pgbouncer.settings = { ...changed.config.pgbouncer.settings, stats_period: 20 };
    expect(await upHost(changed, host, secrets)).toBe("reloaded");
    await expect
      .poll(
        async () =>
          (await admin<{ key: string; value: string }>(host, "SHOW CONFIG")).find(
            (r) => r.key === "stats_period",
          )?.value,
      )
      .toBe("20");
    expect((await client.query("select 1 as one")).rows[0].one).toBe(1);
  } finally {
    await client.end();
    expect(await upHost(plan, host, secrets)).toBe("reloaded");
  }
});

test("down leaves no process, port or state; a taken port or a missing binary is a clear error; up again", async () => {
  await stackDown(plan);
  expect(await leftovers()).toEqual([]);
  expect(existsSync(stateDir())).toBe(false);
  for (const h of plan.hosts)
    expect(await isPortFree(localLayout(h).listenAddr, plan.config.pgbouncer.port)).toBe(true);
  expect(await isPortFree(PRIMARY_ADDRESS, plan.config.database.port)).toBe(true);

  // a taken port: named in the error, and nothing is left running
  const squatter = createServer();
  const taken = localLayout(plan.hosts[1]!).listenAddr;
  await new Promise<void>((resolve) => squatter.listen(plan.config.pgbouncer.port, taken, resolve));
  try {
    await expect(stackUp(plan)).rejects.toThrow(
      `${taken}:${plan.config.pgbouncer.port} is already in use`,
    );
  } finally {
    await new Promise((resolve) => squatter.close(resolve));
  }
  expect(await leftovers()).toEqual([]);

  // a missing PgBouncer binary
  process.env.PGBOUNCER_BIN = "/nonexistent/pgbouncer";
  try {
    await expect(stackUp(plan)).rejects.toThrow(
      /PgBouncer is not installed \(\/nonexistent\/pgbouncer\)/,
    );
  } finally {
    delete process.env.PGBOUNCER_BIN;
  }
  expect(await leftovers()).toEqual([]);

  // up again: fresh secrets (down removed the old ones), and a service logs in with them
  await stackUp(plan);
  const fresh = await readSecrets();
  expect(fresh.accounts.orders!.password).not.toBe(secrets.accounts.orders!.password);
  const client = await connect(pgbouncerTarget(plan, plan.hosts[0]!, fresh, "orders", "orders"));
  await client.end();
}, 180_000);

test("a PgBouncer older than the version the render targets is refused before it starts", async () => {
  const raw = withField(
    withField(rawStack("local"), "pgbouncer.version", "1.26.1"),
    "pgbouncer.port",
    56499,
  );
  const newer = buildPlan(validateStackConfig(raw));
  // Debian 12's binary, the oldest line, as a build the render is too new for.
  const old = LOCAL_LINES["1.18"];
  process.env.PGBOUNCER_BIN = old.binary;
  try {
    expect(await startProblem(newer, newer.hosts[0]!)).toBe(
      `${old.binary} is PgBouncer ${old.version} but pgbouncer.version in Pulumi.local.yaml is 1.26.1: ` +
        "set the version it runs, or PGBOUNCER_BIN to a newer build",
    );
  } finally {
    delete process.env.PGBOUNCER_BIN;
  }
});
