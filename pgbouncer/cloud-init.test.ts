import { execFile, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, test } from "vitest";
import { parse } from "yaml";
import { loadStack } from "../platform/config.js";
import { exporterHostFiles, INSTALL_SCRIPT } from "../monitoring/exporter-units.js";
import { buildPlan, type Plan } from "../platform/plan.js";
import {
  DELIVERED_FILES,
  deliveredFiles,
  PUBLIC_FILES,
  publicFiles,
  type DeliveredFiles,
} from "./delivered-files.js";
import { decodeUserData, encodeUserData, renderCloudInit, USER_DATA_LIMIT } from "./cloud-init.js";
import { fixtureVerifiers } from "./fixtures.js";
import { PRODUCTION_LAYOUT } from "./layout.js";
import { PGDG_KEY, PGDG_KEY_FINGERPRINT } from "./pgdg.js";
import { renderHostFiles, userlistEntries } from "./render.js";
import { tlsFileTargets } from "./tls-files.js";

const exec = promisify(execFile);
const scratch = await mkdtemp(join(tmpdir(), "pg-pooling-cloud-init-"));
afterAll(() => rm(scratch, { recursive: true, force: true }));

const prod = buildPlan(loadStack("prod"));
const dev = buildPlan(loadStack("dev"));

/** A host's user-data, and every file it runs (the userlist, with fixture verifiers, included). */
function render(plan: Plan, index = 0): { text: string; files: DeliveredFiles } {
  const host = plan.hosts[index]!;
  const upstreams = {
    primary: `${plan.environment}-primary.db.internal`,
    replicas: Array.from(
      { length: plan.config.database.replicas },
      (_, i) => `${plan.environment}-replica${i + 1}.db.internal`,
    ),
    port: plan.config.database.port,
  };
  const files = deliveredFiles(
    plan,
    renderHostFiles({
      plan,
      host,
      upstreams,
      layout: PRODUCTION_LAYOUT,
      users: userlistEntries(plan, fixtureVerifiers(plan)),
    }),
  );
  const agent = {
    host: host.name,
    region: "eu-west-1",
    parameterPath: `/pg-pooling/${plan.environment}/${host.name}`,
    targetGroupArn: `arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/pooling-${plan.environment}/0123456789abcdef`,
  };
  const exporters = exporterHostFiles(plan, host, upstreams, plan.environment);
  return {
    text: renderCloudInit({ plan, host, files: publicFiles(files), agent, exporters }),
    files,
  };
}

const prodUpstreams = () => ({
  primary: "prod-primary.db.internal",
  replicas: ["prod-replica1.db.internal", "prod-replica2.db.internal"],
  port: prod.config.database.port,
});

interface WriteFile {
  path: string;
  content: string;
  owner: string;
  permissions: string;
  defer?: boolean;
}
const writeFiles = (text: string) => (parse(text) as { write_files: WriteFile[] }).write_files;

describe("user-data", () => {
  test("golden: prod pgbouncer-1", async () => {
    await expect(render(prod).text).toMatchFileSnapshot(
      "__golden__/prod/pgbouncer-1/user-data.yaml",
    );
  });

  test.each([
    ["prod", 0, prod],
    ["prod", 2, prod],
    ["dev", 0, dev],
  ] as const)("%s host %i: cloud-init schema accepts it", async (_, index, plan) => {
    const file = join(scratch, `${plan.environment}-${index}.yaml`);
    await writeFile(file, render(plan, index).text);
    const { stdout } = await exec("cloud-init", ["schema", "-c", file]);
    expect(stdout).toContain(`Valid cloud-config: ${file}`);
  });

  test.each(prod.hosts.map((h) => [h.name, h.index]))(
    "%s: each file without a secret written byte for byte as rendered, with its owner and mode",
    (_, index) => {
      const { text, files } = render(prod, index);
      const written = writeFiles(text);
      expect(PUBLIC_FILES).toEqual(
        Object.keys(DELIVERED_FILES).filter((name) => name !== "userlist.txt"),
      );
      for (const name of PUBLIC_FILES) {
        const target = DELIVERED_FILES[name];
        const entry = written.find((w) => w.path === target.path)!;
        expect(entry.content, name).toBe(files[name]);
        expect(entry.permissions).toBe(target.mode);
        expect(entry.owner).toBe(`${target.owner}:${target.owner}`);
        // the package creates the `postgres` user: its files are written after the install
        expect(entry.defer ?? false).toBe(target.owner !== "root");
      }
    },
  );

  test("cloud-init's own YAML reader (PyYAML) reads the same bytes", async () => {
    const { text, files } = render(prod);
    const file = join(scratch, "pyyaml.yaml");
    await writeFile(file, text);
    const py =
      "import json, sys, yaml\n" +
      "doc = yaml.safe_load(open(sys.argv[1]))\n" +
      "print(json.dumps({f['path']: [f['content'], f['permissions']] for f in doc['write_files']}))";
    const { stdout } = await exec("python3", ["-c", py, file]);
    const read = JSON.parse(stdout) as Record<string, [string, string]>;
    for (const name of PUBLIC_FILES) {
      const target = DELIVERED_FILES[name];
      expect(read[target.path]).toEqual([files[name], target.mode]);
    }
    expect(read[DELIVERED_FILES["userlist.txt"].path]).toBeUndefined();
  });

  test("installs the pinned PgBouncer from the PGDG repository, signed by the embedded key", () => {
    const { text } = render(prod);
    const doc = parse(text) as { packages: string[]; runcmd: string[]; package_update: boolean };
    expect(doc.packages).toContain("pgbouncer");
    expect(doc.package_update).toBe(true);
    const written = writeFiles(text);
    const sources = written.find((w) => w.path.endsWith("pgdg.sources"))!.content;
    expect(sources).toContain(
      "URIs: https://apt.postgresql.org/pub/repos/apt\nSuites: bookworm-pgdg\n",
    );
    expect(sources).toContain("Signed-By: /etc/apt/keyrings/apt.postgresql.org.asc");
    expect(
      written.find((w) => w.path === "/etc/apt/keyrings/apt.postgresql.org.asc")!.content,
    ).toBe(PGDG_KEY);
    const pin = written.find((w) => w.path === DELIVERED_FILES["pgbouncer.pref"].path)!.content;
    expect(pin).toMatch(/^Pin: version 1\.26\.1-\*$/m);
    expect(doc.runcmd[0]).toBe("/usr/local/sbin/pg-pooling-first-boot");
    expect(text.startsWith("#cloud-config\n")).toBe(true);
  });

  test("installs the exporters after the first boot and starts their units, setup first", () => {
    const host = prod.hosts[0]!;
    const { text } = render(prod);
    const doc = parse(text) as { runcmd: (string | string[])[] };
    const exporters = exporterHostFiles(prod, host, prodUpstreams(), "prod");
    expect(doc.runcmd).toEqual([
      "/usr/local/sbin/pg-pooling-first-boot",
      INSTALL_SCRIPT,
      "systemctl daemon-reload",
      ["systemctl", "enable", "--now", ...exporters.units],
    ]);
    expect(exporters.units[0]).toBe("pg-pooling-exporters-setup.service");
    const written = writeFiles(text);
    for (const f of exporters.files) {
      const entry = written.find((w) => w.path === f.path)!;
      expect(entry.content, f.path).toBe(f.content);
      expect(entry.permissions).toBe(f.mode);
      expect(entry.owner).toBe("root:root");
    }
  });

  // GIVEN client TLS in prod WHEN a host's user-data is rendered THEN it writes neither TLS file
  // and carries no key, and installs no OpenSSL tool: the pair comes from Parameter Store.
  test("the TLS pair is not in the user-data: no key, no certificate file, no openssl", () => {
    const { text } = render(prod);
    const paths = writeFiles(text).map((w) => w.path);
    for (const target of Object.values(tlsFileTargets(prod)!)) {
      expect(paths).not.toContain(target.path);
    }
    expect(text).not.toMatch(/PRIVATE KEY|BEGIN CERTIFICATE|openssl/);
    expect((parse(text) as { packages: string[] }).packages).not.toContain("openssl");
    // the first boot it runs fetches the pair instead
    expect(text).toContain(
      '--names "$PARAMETER_PATH/userlist.txt" "$PARAMETER_PATH/pgbouncer.crt" "$PARAMETER_PATH/pgbouncer.key"',
    );
  });

  // GIVEN a host's real userlist (fixture verifiers) WHEN its user-data is rendered THEN no
  // verifier is in it and no file is written at the userlist's path: user-data is readable
  // through IMDS by any process on the host, so the first boot fetches the userlist instead.
  test.each([
    ["prod", 0, prod],
    ["prod", 2, prod],
    ["dev", 0, dev],
  ] as const)("%s host %i: no verifier and no userlist in the user-data", (_, index, plan) => {
    const { text, files } = render(plan, index);
    const verifiers = [...fixtureVerifiers(plan).values()];
    expect(verifiers.length).toBeGreaterThan(0);
    for (const v of verifiers) expect(files["userlist.txt"]).toContain(v);
    for (const v of verifiers) expect(text.includes(v), "a verifier in user-data").toBe(false);
    expect(text).not.toMatch(/SCRAM-SHA-256\$\d+:/);
    const written = writeFiles(text);
    expect(written.map((w) => w.path)).not.toContain(DELIVERED_FILES["userlist.txt"].path);
    expect(written.some((w) => w.path.endsWith("userlist.txt"))).toBe(false);
  });

  test("a caller that hands over the userlist is refused, naming it", () => {
    const host = prod.hosts[0]!;
    const { files } = render(prod);
    const agent = { host: host.name, region: "r", parameterPath: "/p", targetGroupArn: "arn" };
    expect(() => renderCloudInit({ plan: prod, host, files, agent })).toThrow(
      "files must hold no withheld file (user-data is readable through IMDS; the first boot fetches it from Parameter Store), got userlist.txt",
    );
  });

  test("without exporters, the host only runs its first boot", () => {
    const host = dev.hosts[0]!;
    const { files } = render(dev);
    const agent = { host: host.name, region: "r", parameterPath: "/p", targetGroupArn: "arn" };
    const doc = parse(renderCloudInit({ plan: dev, host, files: publicFiles(files), agent })) as {
      runcmd: string[];
    };
    expect(doc.runcmd).toEqual(["/usr/local/sbin/pg-pooling-first-boot"]);
  });

  test("gzip + base64 for EC2: under the 16 KiB limit, byte-identical round trip, same bytes each time", () => {
    for (const plan of [prod, dev]) {
      const { text } = render(plan);
      const encoded = encodeUserData("h", text);
      expect(Buffer.from(encoded, "base64").length).toBeLessThanOrEqual(USER_DATA_LIMIT);
      expect(decodeUserData(encoded)).toBe(text);
      expect(encodeUserData("h", text)).toBe(encoded);
    }
    const random = Array.from({ length: 40_000 }, () => Math.random().toString(36)).join("");
    expect(() => encodeUserData("pgbouncer-9", random)).toThrow(
      /user-data of pgbouncer-9 is \d+ bytes gzipped, over EC2's 16384/,
    );
  });

  test("the agent settings must be this host's", () => {
    const host = prod.hosts[1]!;
    const files = publicFiles(render(prod, 1).files);
    const agent = { host: "pgbouncer-1", region: "r", parameterPath: "/p", targetGroupArn: "arn" };
    expect(() => renderCloudInit({ plan: prod, host, files, agent })).toThrow(
      /agent\.host must be the host rendered \(pgbouncer-2\), got pgbouncer-1/,
    );
  });
});

// gpg (Debian's gpg package) and postgresql-common are installed by scripts/ensure-deps.sh.
describe("the PGDG signing key", () => {
  test("is the PostgreSQL Debian Repository key, by fingerprint", () => {
    const out = spawnSync("gpg", ["--show-keys", "--with-colons"], { input: PGDG_KEY });
    expect(out.stdout.toString()).toContain(`fpr:::::::::${PGDG_KEY_FINGERPRINT}:`);
  });

  const shipped = "/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc";
  test("matches the copy Debian's postgresql-common ships", () => {
    expect(PGDG_KEY).toBe(readFileSync(shipped, "utf8"));
  });
});
