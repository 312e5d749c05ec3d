import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, test } from "vitest";
import { parse } from "yaml";
import { exporterHostFiles } from "../monitoring/exporter-units.js";
import { cloudScrapeTargets, scrapeIngress } from "../monitoring/scrape.js";
import { rawStack, withField } from "../platform/fixtures.js";
import { hostPrivateIps } from "../platform/network.js";
import { buildPlan } from "../platform/plan.js";
import { validateStackConfig } from "../platform/validate.js";
import { applyScript, renderFirstBoot, reviewAgentSettings } from "./agent.js";
import { deliveredFileTargets, deliveredFiles, publicFiles } from "./delivered-files.js";
import { renderCloudInit } from "./cloud-init.js";
import { iniName, processFile, PRODUCTION_LAYOUT, reviewUpstreams, unitName } from "./layout.js";
import { renderHostFiles, userlistEntries } from "./render.js";
import { hostRollout } from "./rollout.js";

/**
 * A cloud host running two PgBouncer processes (prod with processesPerHost 2: c7g.large has two
 * cores): each process its own ini, unit, socket, log and exporter, the two sharing the port
 * (so_reuseport) and every process of the fleet peered, so a cancel reaches its owner whichever
 * host and process the balancer hands it to.
 */
const exec = promisify(execFile);
const scratch = await mkdtemp(join(tmpdir(), "pg-pooling-processes-"));
afterAll(() => rm(scratch, { recursive: true, force: true }));

const two = buildPlan(
  validateStackConfig(withField(rawStack("prod"), "pgbouncer.processesPerHost", 2)),
);
const upstreams = reviewUpstreams("prod", 2, 5432);
const filesOf = (index: number) =>
  renderHostFiles({
    plan: two,
    host: two.hosts[index]!,
    upstreams,
    layout: PRODUCTION_LAYOUT,
    users: userlistEntries(two, "redacted"),
  });
const key = (text: string, k: string) => new RegExp(`^${k} = (.*)$`, "m").exec(text)?.[1];
const peers = (text: string) => (/\n\[peers\]\n([^[]*)/.exec(text)?.[1] ?? "").trim().split("\n");

describe("two PgBouncer processes on a cloud host", () => {
  const files = filesOf(1);
  const [a, , c] = hostPrivateIps(two.config.network, 3);

  test("each process its ini and unit; the hba, userlist and logrotate shared", () => {
    expect(Object.keys(files).sort()).toEqual([
      "logrotate.conf",
      "pgbouncer-2.ini",
      "pgbouncer-2.service",
      "pgbouncer.ini",
      "pgbouncer.service",
      "pgbouncer_hba.conf",
      "userlist.txt",
    ]);
  });

  test("process 2 of host 2: its own socket, pidfile and log, the shared port, peer_id 4", () => {
    const ini = files["pgbouncer-2.ini"]!;
    expect({
      listen_port: key(ini, "listen_port"),
      so_reuseport: key(ini, "so_reuseport"),
      peer_id: key(ini, "peer_id"),
      unix_socket_dir: key(ini, "unix_socket_dir"),
      pidfile: key(ini, "pidfile"),
      logfile: key(ini, "logfile"),
    }).toEqual({
      listen_port: "6432",
      so_reuseport: "1",
      peer_id: "4",
      unix_socket_dir: "/run/pgbouncer-2",
      pidfile: "/run/pgbouncer-2/pgbouncer.pid",
      logfile: "/var/log/pgbouncer/pgbouncer-2.log",
    });
    // each process half of the host's pool: orders' 11 per host → 6 per process
    expect(ini).toMatch(/^orders = .* pool_size=6 /m);
  });

  test("[peers]: the other hosts' processes at their address, this host's by socket", () => {
    const expected = [
      `1 = host=${a} port=6432`,
      `2 = host=${a} port=6432`,
      "3 = host=/run/pgbouncer port=6432",
      "4 = host=/run/pgbouncer-2 port=6432",
      `5 = host=${c} port=6432`,
      `6 = host=${c} port=6432`,
    ];
    expect(peers(files["pgbouncer.ini"])).toEqual(expected);
    expect(peers(files["pgbouncer-2.ini"]!)).toEqual(expected);
    expect(key(files["pgbouncer.ini"], "peer_id")).toBe("3");
  });

  test("each unit starts its own ini and owns its run folder; logrotate reloads both", () => {
    const unit = files["pgbouncer-2.service"]!;
    expect(unit).toContain("ExecStart=/usr/sbin/pgbouncer /etc/pgbouncer/pgbouncer-2.ini\n");
    expect(unit).toContain("RuntimeDirectory=pgbouncer-2\n");
    expect(unit).toContain("(pgbouncer-2, process 2 of 2, pg-pooling)");
    expect(files["logrotate.conf"]).toContain(
      "/var/log/pgbouncer/pgbouncer.log /var/log/pgbouncer/pgbouncer-2.log {",
    );
    expect(files["logrotate.conf"]).toContain(
      "/bin/systemctl reload pgbouncer.service pgbouncer-2.service",
    );
  });

  test("delivered to their paths; the first boot and the apply script run both units", () => {
    const targets = deliveredFileTargets(two);
    expect(targets["pgbouncer-2.ini"]).toEqual({
      path: "/etc/pgbouncer/pgbouncer-2.ini",
      mode: "0640",
      owner: "postgres",
    });
    expect(targets["pgbouncer-2.service"]).toEqual({
      path: "/etc/systemd/system/pgbouncer-2.service",
      mode: "0644",
      owner: "root",
    });
    const boot = renderFirstBoot(two);
    expect(boot).toContain("systemctl enable pgbouncer.service pgbouncer-2.service\n");
    expect(boot).toContain("systemctl restart pgbouncer.service pgbouncer-2.service\n");
    const apply = applyScript(two).join("\n");
    expect(apply).toContain("    systemctl restart pgbouncer.service pgbouncer-2.service\n");
    expect(apply).toContain("systemctl reload pgbouncer.service pgbouncer-2.service; fi");
    expect(apply).toContain("put pgbouncer-2.ini /etc/pgbouncer/pgbouncer-2.ini 0640 postgres");
    expect(apply).toContain("|| has pgbouncer-2.service;");
  });

  test("a pool change in process 2's ini reloads; a change of its unit restarts", () => {
    const before = { ...files };
    const pool = {
      ...files,
      "pgbouncer-2.ini": files["pgbouncer-2.ini"]!.replace("pool_size=6 ", "pool_size=7 "),
    };
    expect(hostRollout(before, pool).action).toBe("reload");
    const unit = { ...files, "pgbouncer-2.service": files["pgbouncer-2.service"]! + "\n" };
    expect(hostRollout(before, unit)).toEqual({
      action: "rolling-restart",
      reasons: ["pgbouncer-2.service changed: systemd applies a unit (LimitNOFILE, …) on restart"],
    });
  });

  test("an exporter per process, on its socket and port; scraped and admitted", () => {
    const exporters = exporterHostFiles(two, two.hosts[1]!, upstreams, "prod");
    const second = exporters.files.find((f) =>
      f.path.endsWith("/pg-pooling-pgbouncer-exporter-2.service"),
    )!;
    expect(second.content).toContain("host=/run/pgbouncer-2&port=6432");
    expect(second.content).toContain(":9128");
    expect(second.content).toContain("pgbouncer-2.service");
    expect(exporters.units).toContain("pg-pooling-pgbouncer-exporter-2.service");
    const targets = cloudScrapeTargets(two, hostPrivateIps(two.config.network, 3));
    expect(targets.pgbouncer.map((t) => `${t.host}/${t.process} ${t.address}`)).toEqual([
      `pgbouncer-1/1 ${a}:9127`,
      `pgbouncer-1/2 ${a}:9128`,
      `pgbouncer-2/1 ${hostPrivateIps(two.config.network, 3)[1]}:9127`,
      `pgbouncer-2/2 ${hostPrivateIps(two.config.network, 3)[1]}:9128`,
      `pgbouncer-3/1 ${c}:9127`,
      `pgbouncer-3/2 ${c}:9128`,
    ]);
    expect(scrapeIngress(two).map((r) => r.port)).toContain(9128);
  });

  test("user-data writes both processes' files, and cloud-init's schema accepts it", async () => {
    const host = two.hosts[1]!;
    const text = renderCloudInit({
      plan: two,
      host,
      files: publicFiles(deliveredFiles(two, files)),
      agent: reviewAgentSettings("prod", host.name),
    });
    const paths = (parse(text) as { write_files: { path: string }[] }).write_files.map(
      (f) => f.path,
    );
    expect(paths).toEqual(
      expect.arrayContaining([
        "/etc/pgbouncer/pgbouncer-2.ini",
        "/etc/systemd/system/pgbouncer-2.service",
      ]),
    );
    const file = join(scratch, "two-processes.yaml");
    await writeFile(file, text);
    const { stdout } = await exec("cloud-init", ["schema", "-c", file]);
    expect(stdout).toContain(`Valid cloud-config: ${file}`);
  });
});

describe("processFile: the file names of a host's processes, read back", () => {
  test.each([1, 2, 16])("process %i's ini and unit", (k) => {
    expect(processFile(iniName(k))).toEqual({ k, kind: "ini" });
    expect(processFile(unitName(k))).toEqual({ k, kind: "unit" });
  });
  test.each(["pgbouncer-1.ini", "pgbouncer-02.ini", "pgbouncer-x.service", "pgbouncer.pref"])(
    "%s is no process's file",
    (name) => expect(processFile(name)).toBeUndefined(),
  );
});
