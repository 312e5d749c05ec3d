import { execFile } from "node:child_process";
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, test } from "vitest";
import { loadStack } from "../platform/config.js";
import { EXPORTERS } from "../platform/exporters.js";
import { buildPlan, type Plan } from "../platform/plan.js";
import { reviewUpstreams } from "../pgbouncer/layout.js";
import {
  exporterHostFiles,
  hostExporterPorts,
  postgresExporterPlacement,
  renderExporterPgpass,
} from "./exporter-units.js";

const run = promisify(execFile);
const scratch = await mkdtemp(join(tmpdir(), "pg-pooling-exporters-"));
afterAll(() => rm(scratch, { recursive: true, force: true }));

const prod = buildPlan(loadStack("prod"));
const dev = buildPlan(loadStack("dev"));
const upstreams = (plan: Plan) =>
  reviewUpstreams(plan.environment, plan.config.database.replicas, plan.config.database.port);
const render = (plan: Plan, index = 0) =>
  exporterHostFiles(plan, plan.hosts[index]!, upstreams(plan), plan.environment);

/**
 * systemd-analyze verify of every unit of a host together (Requires= must resolve), with the
 * absolute binaries moved under the scratch folder, where empty executables stand in for them.
 */
async function verifyUnits(units: Map<string, string>): Promise<string> {
  const dir = await mkdtemp(join(scratch, "units-"));
  const bin = join(dir, "bin");
  await mkdir(bin);
  const paths: string[] = [];
  for (const [name, text] of units) {
    const relocated = text.replace(/^ExecStart=(\/\S+)/gm, (_, exe: string) => {
      return `ExecStart=${bin}${exe.replaceAll("/", "_")}`;
    });
    for (const m of relocated.matchAll(/^ExecStart=(\S+)/gm)) {
      await writeFile(m[1]!, "#!/bin/sh\n");
      await chmod(m[1]!, 0o755);
    }
    await writeFile(join(dir, name), relocated);
    paths.push(join(dir, name));
  }
  try {
    const { stderr } = await run("systemd-analyze", ["verify", ...paths]);
    return stderr.trim();
  } catch (e) {
    return (e as { stderr: string }).stderr.trim() || String(e);
  }
}

const unitsOf = (files: { path: string; content: string }[]) =>
  new Map(
    files
      .filter((f) => f.path.endsWith(".service"))
      .map((f) => [f.path.split("/").pop()!, f.content]),
  );

describe("exporter units", () => {
  test.each([
    ["prod", prod, 0],
    ["prod", prod, 2],
    ["dev", dev, 0],
  ] as const)("%s host %i: systemd-analyze verify accepts every unit", async (_, plan, index) => {
    const { files, units } = render(plan, index);
    const byName = unitsOf(files);
    expect([...byName.keys()].sort()).toEqual([...units].sort());
    expect(await verifyUnits(byName)).toBe("");
  });

  test("and the check can fail: a broken directive is reported", async () => {
    const byName = unitsOf(render(prod).files);
    const [name, text] = [...byName][1]!;
    byName.set(name, text.replace("RestartSec=5s", "RestartSec=soon"));
    expect(await verifyUnits(byName)).toMatch(/Failed to parse|Invalid|RestartSec/);
  });

  test("each exporter listens on the private address only, on its port from EXPORTERS", () => {
    const byName = unitsOf(render(prod).files);
    const listen = [...byName.values()].flatMap((t) =>
      [...t.matchAll(/--web\.listen-address=(\S+)/g)].map((m) => m[1]),
    );
    expect(listen.sort()).toEqual(
      [EXPORTERS.node.port, EXPORTERS.pgbouncer.port, EXPORTERS.postgres.port].map(
        (port) => `\${LISTEN_ADDRESS}:${port}`,
      ),
    );
  });

  test("hardened: a dynamic user without capabilities, the system read-only", () => {
    for (const [name, text] of unitsOf(render(dev).files)) {
      if (name.includes("setup")) continue;
      for (const line of ["DynamicUser=yes", "NoNewPrivileges=yes", "ProtectSystem=strict"]) {
        expect(text, name).toContain(`\n${line}\n`);
      }
      expect(text, name).toContain("\nCapabilityBoundingSet=\n");
    }
  });

  test("no password anywhere: the DSNs name the user only, the password comes from a credential", () => {
    const pw = { stats: "statsSecret123", monitoring: "monitorSecret456" };
    const pgpass = renderExporterPgpass(pw);
    for (const plan of [prod, dev]) {
      for (const { path, content } of render(plan).files) {
        expect(content, path).not.toContain(pw.stats);
        expect(content, path).not.toMatch(/postgres(ql)?:\/\/[^/@\s]*:[^/@\s]*@/);
        expect(content, path).not.toMatch(/password=/i);
      }
    }
    expect(pgpass).toBe(
      "*:*:*:pgbouncer_stats:statsSecret123\n*:*:*:pooling_monitor:monitorSecret456\n",
    );
  });

  test("a password that would break the pgpass line is refused without being echoed", () => {
    expect(() => renderExporterPgpass({ stats: "a:b", monitoring: "ok" })).toThrow(
      /exporter password of pgbouncer_stats must be .* \(value withheld\)/,
    );
    let message = "";
    try {
      renderExporterPgpass({ stats: "ok", monitoring: "sec\nret" });
    } catch (e) {
      message = String(e);
    }
    expect(message).toMatch(/exporter password of pooling_monitor/);
    expect(message).not.toContain("sec");
  });
});

describe("postgres_exporter placement", () => {
  test.each([
    ["prod", prod],
    ["dev", dev],
  ] as const)("%s: every Postgres node exactly once, spread over the hosts", (_, plan) => {
    const placement = postgresExporterPlacement(plan);
    expect(placement.map((p) => p.node)).toEqual(plan.budget.map((b) => b.node));
    const units = plan.hosts.flatMap((h, i) =>
      render(plan, i).units.filter((u) => u.includes("postgres-exporter")),
    );
    expect(units.sort()).toEqual(
      plan.budget.map((b) => `pg-pooling-postgres-exporter-${b.node}.service`).sort(),
    );
    // two exporters on one host never share a port
    const keys = placement.map((p) => `${p.host}:${p.port}`);
    expect(new Set(keys).size).toBe(keys.length);
  });

  test("prod: one node per host on the registered port; dev: both nodes on its one host", () => {
    expect(postgresExporterPlacement(prod)).toEqual([
      { node: "primary", host: "pgbouncer-1", port: 9187 },
      { node: "replica1", host: "pgbouncer-2", port: 9187 },
      { node: "replica2", host: "pgbouncer-3", port: 9187 },
    ]);
    expect(postgresExporterPlacement(dev)).toEqual([
      { node: "primary", host: "pgbouncer-1", port: 9187 },
      { node: "replica1", host: "pgbouncer-1", port: 9188 },
    ]);
  });

  test("hostExporterPorts: exactly the ports some unit of some host listens on", () => {
    expect(hostExporterPorts(prod)).toEqual([9100, 9127, 9187]);
    expect(hostExporterPorts(dev)).toEqual([9100, 9127, 9187, 9188]);
    for (const plan of [prod, dev]) {
      const listened = plan.hosts.flatMap((_, i) =>
        [...unitsOf(render(plan, i).files).values()].flatMap((t) =>
          [...t.matchAll(/--web\.listen-address=\$\{LISTEN_ADDRESS\}:(\d+)/g)].map((m) =>
            Number(m[1]),
          ),
        ),
      );
      expect(hostExporterPorts(plan)).toEqual([...new Set(listened)].sort((a, b) => a - b));
    }
  });

  test("verify-full to RDS: the CA bundle is handed over and named in the DSN", () => {
    const text = unitsOf(render(prod).files).get("pg-pooling-postgres-exporter-primary.service")!;
    expect(text).toContain("LoadCredential=server-ca.pem:/etc/pgbouncer/tls/server-ca.pem\n");
    expect(text).toContain(
      "Environment=DATA_SOURCE_NAME=postgresql://pooling_monitor@prod-primary.rds-endpoint.invalid:5432/postgres?sslmode=verify-full&sslrootcert=%d/server-ca.pem\n",
    );
  });

  test("an upstream list that does not match the plan's nodes is refused", () => {
    const bad = { ...upstreams(prod), replicas: ["only-one"] };
    expect(() => exporterHostFiles(prod, prod.hosts[0]!, bad, "prod")).toThrow(
      /upstreams must name 3 Postgres nodes \(primary, replica1, replica2\)/,
    );
  });
});

test("stopping or restarting PgBouncer stops pgbouncer_exporter first (its connection would hold a 1.23+ SIGTERM)", () => {
  const units = render(prod).files.filter((f) => f.path.endsWith(".service"));
  const pgbouncer = units.filter((f) => /pgbouncer_exporter/.test(f.content));
  expect(pgbouncer).toHaveLength(1);
  expect(pgbouncer[0]!.content).toMatch(/^PartOf=pgbouncer\.service$/m);
  expect(pgbouncer[0]!.content).toMatch(/^After=.* pgbouncer\.service$/m);
  for (const other of units.filter((f) => !pgbouncer.includes(f)))
    expect(other.content, other.path).not.toMatch(/^PartOf=/m);
});
