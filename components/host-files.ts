import * as pulumi from "@pulumi/pulumi";
import type { Plan } from "../platform/plan.js";
import { deliveredFiles, publicFiles, type PublicFiles } from "../pgbouncer/delivered-files.js";
import type { Upstreams } from "../pgbouncer/layout.js";
import { productionHostRender } from "../pgbouncer/review.js";

/**
 * What each host's user-data writes, by host name: every delivered file but the withheld ones
 * (pgbouncer/secret-files.ts), made from the upstream addresses only, so not secret. The userlist
 * carries the verifiers and reaches the hosts through Parameter Store alone (ConfigRollout's
 * secretFiles), so the redacted one rendered here is dropped.
 */
export function bootFiles(
  plan: Plan,
  upstreams: pulumi.Output<Upstreams>,
): pulumi.Output<Record<string, PublicFiles>> {
  return upstreams.apply((addresses) => {
    const render = productionHostRender(plan, addresses, "redacted");
    return Object.fromEntries(
      plan.hosts.map((host): [string, PublicFiles] => {
        return [host.name, publicFiles(deliveredFiles(plan, render(host)))];
      }),
    );
  });
}

/**
 * The readable files Parameter Store keeps per host: the boot files and, with client TLS, the
 * certificate (`pgbouncer.crt`, public). The userlist and the TLS key are secret and never in
 * user-data: the hosts fetch them from Parameter Store, SecureStrings (ConfigRollout secretFiles).
 */
export function storedFiles(
  boot: pulumi.Output<Record<string, PublicFiles>>,
  certificate: pulumi.Output<string> | undefined,
): pulumi.Output<Record<string, Record<string, string>>> {
  return pulumi
    .all([boot, certificate])
    .apply(([files, cert]) =>
      Object.fromEntries(
        Object.entries(files).map(([host, f]): [string, Record<string, string>] => [
          host,
          cert ? { ...f, "pgbouncer.crt": cert } : f,
        ]),
      ),
    );
}
