import { chmod, chown, lchown, mkdir, readdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { isRoot, lookupUser, run } from "./exec.js";

/**
 * Files and folders handed to the user a server runs as: the servers drop root, so what they
 * read and write must be theirs.
 */
/**
 * chown -R path to user (and their primary group) when we are root, so daemons that drop to
 * that user can write their state. A no-op for ordinary users, who already own what they make.
 */
export async function chownToUser(target: string, user: string): Promise<void> {
  if (!isRoot()) return;
  const { uid, gid } = lookupUser(user);
  await chown(target, uid, gid);
  const entries = await readdir(target, { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    const p = path.join(target, e.name);
    if (e.isDirectory()) await chownToUser(p, user);
    else await lchown(p, uid, gid);
  }
}

/** Write a file only its owner may read (0600) and hand it to `user`: configs that hold secrets. */
export async function writePrivateFile(file: string, content: string, user: string): Promise<void> {
  await writeFile(file, content, { mode: 0o600 });
  await chmod(file, 0o600); // writeFile keeps the mode of an existing file
  await chownToUser(file, user);
}

/**
 * Create `dir` for a daemon running as `user`: missing parents get 0755 whatever the umask, the
 * tree is chowned to `user`, and we check that `user` can really write there, since a parent
 * that is not world-traversable would otherwise surface later as an obscure daemon error.
 */
export async function ensureServiceDir(dir: string, user: string): Promise<void> {
  const first = await mkdir(dir, { recursive: true, mode: 0o755 });
  for (let d = dir; first && d.startsWith(first); d = path.dirname(d)) await chmod(d, 0o755);
  await chownToUser(dir, user);
  await run("test", ["-w", dir, "-a", "-x", dir], { asUser: user }).catch(() => {
    throw new Error(`OS user ${user} cannot write ${dir}; make its parent folders o+x`);
  });
}
