import type { Plan } from "../platform/plan.js";
import { superuserScript } from "../local/postgres-server.js";
import type { LocalSecrets } from "../local/secrets.js";
import { clusterOptions, primaryNode } from "../local/cluster.js";
import { actingPrimary } from "../local/switchover.js";
import type { AckedWrite } from "./workloads.js";

/**
 * After a drill: every write the callers saw acknowledged must be on the primary exactly once.
 * Rows the callers did not see acknowledged (outcome unknown) may or may not be there; they are
 * counted but are not a failure.
 */
export interface WriteCheck {
  acknowledged: number;
  missing: number;
  duplicated: number;
  /** Present but never acknowledged: the caller got an error for a write that did commit. */
  unacknowledgedPresent: number;
}

export async function verifyWrites(
  plan: Plan,
  secrets: LocalSecrets,
  runId: string,
  acked: AckedWrite[],
): Promise<WriteCheck> {
  const byTable = new Map<string, { service: string; table: string; ids: Set<string> }>();
  for (const w of acked) {
    const key = `${w.service}.${w.table}`;
    const entry = byTable.get(key) ?? { service: w.service, table: w.table, ids: new Set() };
    entry.ids.add(w.requestId);
    byTable.set(key, entry);
  }
  const check: WriteCheck = {
    acknowledged: acked.length,
    missing: 0,
    duplicated: 0,
    unacknowledgedPresent: 0,
  };
  // Whichever node is primary now: after a failover drill that is the promoted replica.
  const primary =
    (await actingPrimary(clusterOptions(plan, secrets.replicationPassword))) ??
    primaryNode(plan, secrets);
  for (const { service, table, ids } of byTable.values()) {
    // As the superuser: the role may be at its connection limit. Names come from the workloads
    // module and the run id is [a-z0-9], so nothing here is caller input.
    const out = await superuserScript(
      primary,
      `\\c ${service}\nSELECT request_id, count(*) FROM ${table} WHERE request_id LIKE '${runId}-%' GROUP BY request_id;\n`,
    );
    const found = new Map(
      out
        .split("\n")
        .filter((l) => l.includes("|"))
        .map((l) => {
          const [id, n] = l.split("|");
          return [id!, Number(n)] as const;
        }),
    );
    for (const id of ids) if (!found.has(id)) check.missing++;
    for (const [id, n] of found) {
      if (n > 1) check.duplicated += n - 1;
      if (!ids.has(id)) check.unacknowledgedPresent++;
    }
  }
  return check;
}

/**
 * Seconds from the fault until throughput is back: the first moment after which four 250 ms windows
 * in a row each complete at least 80 % of what a window completed in the 3 s before the fault.
 */
export function recoverySeconds(completions: number[], faultAtMs: number, endMs: number): number {
  const W = 250;
  const count = (from: number) => completions.filter((t) => t >= from && t < from + W).length;
  const before = Math.max(0, faultAtMs - 3000);
  const windows = Math.max(1, Math.floor((faultAtMs - before) / W));
  let baseline = 0;
  for (let t = before; t + W <= faultAtMs; t += W) baseline += count(t);
  baseline /= windows;
  for (let start = faultAtMs; start + 4 * W <= endMs; start += W) {
    let ok = true;
    for (let k = 0; k < 4 && ok; k++) ok = count(start + k * W) >= 0.8 * baseline;
    if (ok) return (start - faultAtMs) / 1000;
  }
  return (endMs - faultAtMs) / 1000;
}
