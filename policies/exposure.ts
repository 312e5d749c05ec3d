import { refText, type Facts, type Finding } from "./types.js";

const EXPECTED: Record<string, string> = { internal: "true" };

/**
 * The pooling tier has no public address: no host (where PgBouncer and its exporters listen)
 * gets a public IP or an Elastic IP, no subnet hands them out, and the load balancer is internal.
 */
export function checkExposure(facts: Facts): Finding[] {
  return facts.exposures.map((e) => {
    const field = e.field.split(".").pop()!;
    const want =
      EXPECTED[field] ??
      (["instance", "networkInterface", "instanceId"].includes(field) ? "unset" : "false");
    return {
      ref: e.ref,
      message: `${refText(e.ref)}: ${e.field} must be ${want} (PgBouncer and its exporters stay on private addresses), got ${e.got}`,
    };
  });
}
