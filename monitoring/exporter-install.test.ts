import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, test } from "vitest";
import { EXPORTER_RELEASES } from "./catalogue.js";
import {
  EXPORTER_ARCHITECTURES,
  PINNED_SHA256,
  renderInstallScript,
  tarballName,
  type ExporterBinary,
} from "./exporter-install.js";

const run = promisify(execFile);
const arch = (await run("dpkg", ["--print-architecture"])).stdout.trim();
const scratch = await mkdtemp(join(tmpdir(), "pg-pooling-exporter-install-"));
afterAll(() => rm(scratch, { recursive: true, force: true }));

const BINARIES = Object.keys(EXPORTER_RELEASES) as ExporterBinary[];

describe("install script", () => {
  test("fetches every exporter at the catalogue's pin; no sha256 pin without a release's own sums", () => {
    expect([...BINARIES].sort()).toEqual([
      "node_exporter",
      "pgbouncer_exporter",
      "postgres_exporter",
    ]);
    expect(PINNED_SHA256).toEqual({});
    const script = renderInstallScript();
    for (const binary of BINARIES) {
      const { version, repo } = EXPORTER_RELEASES[binary];
      expect(script).toContain(
        `fetch ${binary} ${version} ${repo}/releases/download/v${version}\n`,
      );
    }
    expect(script).toContain(
      "fetch node_exporter 1.12.1 https://github.com/prometheus/node_exporter/releases/download/v1.12.1\n",
    );
  });

  test("every pinned sha256 is for a tarball of a pinned version: a version bump without its sums fails here", () => {
    const names = new Set(
      BINARIES.flatMap((b) => EXPORTER_ARCHITECTURES.map((a) => tarballName(b, a))),
    );
    for (const file of Object.keys(PINNED_SHA256)) expect(names, file).toContain(file);
  });

  const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

  /** A local "release": one tarball per binary holding a fake executable. */
  async function release(): Promise<{ dir: string; sums: Record<string, string> }> {
    const dir = await mkdtemp(join(scratch, "release-"));
    const sums: Record<string, string> = {};
    for (const binary of BINARIES) {
      const folder = tarballName(binary, arch).replace(/\.tar\.gz$/, "");
      await mkdir(join(dir, folder));
      await writeFile(join(dir, folder, binary), `#!/bin/sh\necho ${binary}\n`, { mode: 0o755 });
      const tarball = tarballName(binary, arch);
      await run("tar", ["-czf", join(dir, tarball), "-C", dir, folder]);
      sums[tarball] = sha256(await readFile(join(dir, tarball)));
    }
    return { dir, sums };
  }

  async function install(script: string): Promise<{ ok: boolean; log: string }> {
    const file = join(scratch, `install-${Math.random().toString(36).slice(2)}.sh`);
    await writeFile(file, script);
    try {
      const { stderr } = await run("sh", [file]);
      return { ok: true, log: stderr };
    } catch (e) {
      return { ok: false, log: (e as { stderr: string }).stderr };
    }
  }

  test("pinned tarballs that match are installed; an unpinned one is checked against sha256sums.txt", async () => {
    const { dir, sums } = await release();
    const pgbouncer = tarballName("pgbouncer_exporter", arch);
    await writeFile(join(dir, "sha256sums.txt"), `${sums[pgbouncer]}  ${pgbouncer}\n`);
    const { [pgbouncer]: _unpinned, ...pins } = sums;
    const root = join(dir, "root");
    const result = await install(renderInstallScript({ root, base: `file://${dir}`, pins }));
    expect(result).toMatchObject({ ok: true });
    expect(result.log).toContain(`${pgbouncer} has no pinned sha256`);
    for (const binary of BINARIES) {
      expect(existsSync(join(root, "usr/local/bin", binary)), binary).toBe(true);
    }
  });

  test("a tarball that does not match its pinned sha256 is refused before unpacking", async () => {
    const { dir } = await release();
    const root = join(dir, "root");
    // pins the stand-in tarballs cannot match
    const wrong = Object.fromEntries(
      EXPORTER_ARCHITECTURES.map((a) => [tarballName("node_exporter", a), "0".repeat(64)]),
    );
    const result = await install(renderInstallScript({ root, base: `file://${dir}`, pins: wrong }));
    expect(result.ok).toBe(false);
    expect(result.log).toMatch(
      /node_exporter-.*\.tar\.gz does not match sha256 [0-9a-f]{64}: not installed/,
    );
    expect(existsSync(join(root, "usr/local/bin/node_exporter"))).toBe(false);
  });

  test("an unpinned tarball missing from sha256sums.txt is refused", async () => {
    const { dir, sums } = await release();
    await writeFile(join(dir, "sha256sums.txt"), "");
    const result = await install(
      renderInstallScript({ root: join(dir, "root"), base: `file://${dir}`, pins: {} }),
    );
    expect(result.ok).toBe(false);
    expect(result.log).toMatch(/is not in its release's sha256sums.txt/);
    expect(Object.keys(sums).length).toBe(3);
  });
});
