import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { REPO_ROOT } from "../platform/config.js";

/** The OS user the local servers run as when we are root (Postgres and PgBouncer refuse root). */
export const SERVICE_USER = "postgres";

let chosen: string | undefined;

/**
 * The folder the local stack keeps its files in. Chosen on first use, not at import: choosing may
 * run `runuser`, and modules that only render or check (npm run check) import local/ too.
 */
export function stateDir(): string {
  chosen ??= chooseStateDir();
  return chosen;
}

/**
 * The gitignored `.stack` folder of the checkout, unless the servers' user cannot reach it (a
 * checkout under /root, mode 0700): then a folder of this checkout's own under /var/tmp, because
 * Postgres and PgBouncer must open their files by path. PG_POOLING_STATE_DIR overrides both.
 */
function chooseStateDir(): string {
  if (process.env.PG_POOLING_STATE_DIR) return process.env.PG_POOLING_STATE_DIR;
  const inCheckout = join(REPO_ROOT, ".stack");
  if (process.getuid?.() !== 0) return inCheckout;
  const reachable =
    spawnSync("runuser", ["-u", SERVICE_USER, "--", "test", "-x", REPO_ROOT]).status === 0;
  if (reachable) return inCheckout;
  return `/var/tmp/pg-pooling-${createHash("sha256").update(REPO_ROOT).digest("hex").slice(0, 12)}`;
}
