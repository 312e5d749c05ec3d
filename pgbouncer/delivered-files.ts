import type { Plan } from "../platform/plan.js";
import type { FileTarget } from "./file-target.js";
import {
  iniName,
  PRODUCTION_LAYOUT,
  processFile,
  processNumbers,
  productionLayout,
  SYSTEMD_UNIT_DIR,
  unitName,
} from "./layout.js";
import { PGBOUNCER_PIN, pgbouncerPin } from "./pgdg.js";
import type { HostFiles } from "./render.js";
import { isWithheld, type WithheldFileName } from "./secret-files.js";
import { tlsFileTargets } from "./tls-files.js";

/**
 * The files a cloud host is delivered, where each goes and who may read it: the one table the
 * first boot (cloud-init.ts, secret-files.ts), the apply script (agent.ts), the rollout's
 * Parameter Store copies (components/config-rollout.ts) and the policies all read.
 */

/**
 * Every file a host runs, where it goes, and who may read it: installed at first boot (written by
 * cloud-init, or fetched from Parameter Store for a withheld file) and by the apply script at
 * every revision. One table for all of them.
 */
export const DELIVERED_FILES = {
  "pgbouncer.pref": { path: PGBOUNCER_PIN, mode: "0644", owner: "root" },
  "pgbouncer.service": {
    path: `${SYSTEMD_UNIT_DIR}/pgbouncer.service`,
    mode: "0644",
    owner: "root",
  },
  "logrotate.conf": { path: "/etc/logrotate.d/pgbouncer", mode: "0644", owner: "root" },
  "pgbouncer.ini": { path: PRODUCTION_LAYOUT.iniFile, mode: "0640", owner: PRODUCTION_LAYOUT.user },
  "pgbouncer_hba.conf": {
    path: PRODUCTION_LAYOUT.hbaFile,
    mode: "0640",
    owner: PRODUCTION_LAYOUT.user,
  },
  // The verifiers: readable by the service user only.
  "userlist.txt": { path: PRODUCTION_LAYOUT.authFile, mode: "0600", owner: PRODUCTION_LAYOUT.user },
} as const;
export type DeliveredFileName = keyof typeof DELIVERED_FILES;
export type DeliveredFiles = Record<DeliveredFileName, string>;

/** The files without a secret in them, the only ones user-data may write: not the verifiers. */
export type PublicFiles = Omit<DeliveredFiles, WithheldFileName>;
export const PUBLIC_FILES = (Object.keys(DELIVERED_FILES) as DeliveredFileName[]).filter(
  (name): name is keyof PublicFiles => !isWithheld(name),
);

/** A host's delivered files without the withheld ones: what its user-data may carry. */
export function publicFiles<F extends PublicFiles>(files: F): PublicFiles & Record<string, string> {
  return Object.fromEntries(
    Object.entries(files).filter(([name]) => !isWithheld(name)),
  ) as PublicFiles & Record<string, string>;
}

/**
 * The files of processes 2…N of a host that runs several: each its own ini and its own unit
 * (pgbouncer/layout.ts productionLayout), beside process 1's, which are DELIVERED_FILES'.
 */
export function processFileTargets(plan: Plan): Record<string, FileTarget> {
  const extra = processNumbers(plan.hosts[0]!).filter((k) => k > 1);
  return Object.fromEntries(
    extra.flatMap((k) => [
      [iniName(k), processFileTarget(k, "ini")],
      [unitName(k), processFileTarget(k, "unit")],
    ]),
  );
}

function processFileTarget(k: number, kind: "ini" | "unit"): FileTarget {
  return kind === "ini"
    ? { path: productionLayout(k).iniFile, mode: "0640", owner: PRODUCTION_LAYOUT.user }
    : { path: `${SYSTEMD_UNIT_DIR}/${unitName(k)}`, mode: "0644", owner: "root" };
}

/**
 * Whether a file name is one a host is delivered: DELIVERED_FILES', or process k's ini or unit
 * (k > 1), whatever the plan (a policy reads what is there, not what the plan says).
 */
export function isDeliveredFile(name: string): boolean {
  return name in DELIVERED_FILES || (processFile(name)?.k ?? 1) > 1;
}

/** The delivered file a path on a host is, by DELIVERED_FILES or as process k's, or undefined. */
export function deliveredFileAt(path: string): string | undefined {
  for (const [name, f] of Object.entries(DELIVERED_FILES)) if (f.path === path) return name;
  const name = path.slice(path.lastIndexOf("/") + 1);
  const p = processFile(name);
  return p && p.k > 1 && processFileTarget(p.k, p.kind).path === path ? name : undefined;
}

/** Every delivered file of this plan's hosts: DELIVERED_FILES and the other processes' files. */
export function deliveredFileTargets(plan: Plan): Record<string, FileTarget> {
  return { ...DELIVERED_FILES, ...processFileTargets(plan) };
}

/** Every file the apply script installs: the delivered files and, with client TLS, the TLS pair. */
export function hostFileTargets(plan: Plan): Record<string, FileTarget> {
  return { ...deliveredFileTargets(plan), ...tlsFileTargets(plan) };
}

/** The host's PgBouncer units, as one shell word list: process 1's first. */
export const unitList = (plan: Plan) => processNumbers(plan.hosts[0]!).map(unitName).join(" ");

/** The withheld files this plan's hosts need, with their targets: what the first boot fetches. */
export function withheldFileTargets(plan: Plan): Partial<Record<WithheldFileName, FileTarget>> {
  const targets: Record<string, FileTarget> = hostFileTargets(plan);
  return Object.fromEntries(Object.entries(targets).filter(([name]) => isWithheld(name)));
}

/** A host's files as delivered: the renderers' (every process's included) and the apt pin. */
export function deliveredFiles(
  plan: Plan,
  files: HostFiles,
): DeliveredFiles & Record<string, string> {
  return { ...files, "pgbouncer.pref": pgbouncerPin(plan.pgbouncerVersion) };
}
