import { execFileSync } from "node:child_process";
import { existsSync, lstatSync, mkdtempSync, readFileSync, readlinkSync } from "node:fs";
import { mkdir, readdir, rm, symlink, unlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import { REPO_ROOT } from "../platform/config.js";

/**
 * The production line's runtime on this machine: a root folder holding Debian sid's PgBouncer,
 * PostgreSQL, exporters and Prometheus (scripts/production-root.sh builds it once, outside the
 * repository), whose servers run with `chroot` and share the machine's loopback.
 *
 * The state folder is shared with the root under one path: its real folder sits inside the root at
 * the same absolute path, and the path outside is a symbolic link to it. So a server inside the
 * root and the code (or a Debian 12 binary) outside open the very same files by the very same name.
 */
const BUILD_SCRIPT = join(REPO_ROOT, "scripts", "production-root.sh");
/** Where the root's manifest lives inside it: the suite, build time and package versions. */
const MANIFEST = "etc/pg-pooling-root";

let cachedRoot: string | undefined;

/**
 * The root's path, building it first when it is missing (about 20 s, once per package set). The
 * script prints the path on its last line and exits at once when the root is already there.
 */
export function productionRoot(): string {
  if (cachedRoot) return cachedRoot;
  let out: string;
  try {
    out = execFileSync("bash", [BUILD_SCRIPT], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(
      `the production-line root could not be built: ${(err.stderr ?? err.message).trim()}`,
    );
  }
  const root = out.trim().split("\n").at(-1)!;
  if (!existsSync(join(root, MANIFEST)))
    throw new Error(`${BUILD_SCRIPT} printed ${root}, which holds no root`);
  return (cachedRoot = root);
}

/** The root's packages and their versions, from its manifest, and where it is. */
export function rootPackages(): { root: string; built: string; packages: Record<string, string> } {
  const root = productionRoot();
  const lines = readFileSync(join(root, MANIFEST), "utf8").trim().split("\n");
  const packages: Record<string, string> = {};
  for (const line of lines.filter((l) => !l.startsWith("#"))) {
    const [name, version] = line.split(" ");
    packages[name!] = version!;
  }
  return { root, built: lines[0]!.replace(/^# /, ""), packages };
}

/** A path inside the root, as seen from outside it. */
export const inRootPath = (path: string) => join(productionRoot(), path);

/**
 * Argv that runs `cmd` inside the root as uid:gid (numeric: the root's postgres user was created
 * with this machine's ids). chroot keeps the caller's resource limits and environment.
 */
export function chrootArgs(
  ids: { uid: number; gid: number } | undefined,
  cmd: string,
  args: string[],
): [string, string[]] {
  const spec = ids ? [`--userspec=${ids.uid}:${ids.gid}`] : [];
  return ["chroot", [...spec, productionRoot(), cmd, ...args]];
}

/**
 * Makes `dir` the same folder inside the root and outside: a real folder inside, a symbolic link
 * to it outside. A real folder outside is taken only when it is empty (else it is an older stack's).
 */
export async function shareWithRoot(dir: string): Promise<void> {
  const inside = inRootPath(dir);
  await mkdir(inside, { recursive: true, mode: 0o755 });
  const stat = existsSync(dir) || isLink(dir) ? lstatSync(dir) : undefined;
  if (stat?.isSymbolicLink()) {
    if (readLink(dir) === inside) return;
    await unlink(dir);
  } else if (stat) {
    if ((await readdir(dir)).length > 0)
      throw new Error(
        `${dir} holds a local stack that does not run in ${productionRoot()}: take it down first`,
      );
    await rm(dir, { recursive: true });
  }
  await mkdir(dirname(dir), { recursive: true });
  await symlink(inside, dir);
}

/** Removes both sides of a shared folder. */
export async function unshareFromRoot(dir: string): Promise<void> {
  if (isLink(dir)) {
    await rm(readLink(dir), { recursive: true, force: true });
    await unlink(dir);
  } else {
    await rm(dir, { recursive: true, force: true });
  }
}

function isLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

const readLink = (path: string) => readlinkSync(path);

/**
 * A fresh scratch folder inside the root's /tmp, for a tool of the root that reads files (promtool):
 * `host` is its path from here, `inner` the same folder as the tool sees it.
 */
export function rootScratchDir(prefix: string): { host: string; inner: string } {
  const host = mkdtempSync(join(inRootPath("/tmp"), prefix));
  return { host, inner: host.slice(productionRoot().length) };
}

/** Runs a tool of the root (as root) on files of a scratch folder; its stdout, or it throws. */
export function runInRoot(cmd: string, args: string[]): string {
  return execFileSync("chroot", [productionRoot(), cmd, ...args], {
    encoding: "utf8",
    stdio: "pipe",
  });
}
