import type { HostPlan, Plan } from "../platform/plan.js";
import { reviewAgentSettings } from "./agent.js";
import { renderCloudInit } from "./cloud-init.js";
import { deliveredFiles, publicFiles } from "./delivered-files.js";
import { PRODUCTION_LAYOUT, reviewUpstreams, type Upstreams } from "./layout.js";
import { renderHostFiles, userlistEntries, type HostFiles } from "./render.js";

/** How a stack renders one host's PgBouncer files for review (verifiers redacted). */
export type HostRender = (host: HostPlan) => HostFiles;

/** A host's files as review sees them: what it runs and, in the cloud, what it boots with. */
export interface ReviewHost {
  host: string;
  /** Every file the host is delivered (its PgBouncer files and the package pin). */
  files: Record<string, string>;
  /** The cloud-init user-data it boots with; none for the local stack, which has no boot. */
  userData?: string;
}

/** Where a stack's Postgres nodes are and how its hosts render: the local stack brings its own. */
export interface StackRender {
  upstreams: Upstreams;
  hostFiles: HostRender;
}

/**
 * How a cloud host's files are rendered from where its nodes are and which verifiers its userlist
 * holds: the production layout. The program (real endpoints, redacted: the userlist reaches the
 * hosts apart), the review and the program's tests (mock endpoints, real verifiers) all use it.
 */
export function productionHostRender(
  plan: Plan,
  upstreams: Upstreams,
  verifiers: ReadonlyMap<string, string> | "redacted",
): HostRender {
  const users = userlistEntries(plan, verifiers);
  return (host) => renderHostFiles({ plan, host, upstreams, layout: PRODUCTION_LAYOUT, users });
}

/**
 * The cloud's review render: RDS endpoints named under the reserved `.invalid` domain (they are
 * only known after deploy) and the userlist's verifiers redacted.
 */
export function cloudReviewRender(plan: Plan): StackRender {
  const c = plan.config;
  const upstreams = reviewUpstreams(plan.environment, c.database.replicas, c.database.port);
  return { upstreams, hostFiles: productionHostRender(plan, upstreams, "redacted") };
}

/**
 * Every host's review files, the one render `npm run render`, `npm run check` and the policy
 * tests read. The user-data never carries the userlist (the hosts fetch it from Parameter Store),
 * and the region and target group are named as set at deploy.
 */
export function reviewHosts(plan: Plan, stack: string, render: StackRender): ReviewHost[] {
  return plan.hosts.map((host) => {
    const files = deliveredFiles(plan, render.hostFiles(host));
    if (plan.environment === "local") return { host: host.name, files };
    const userData = renderCloudInit({
      plan,
      host,
      files: publicFiles(files),
      agent: reviewAgentSettings(stack, host.name),
    });
    return { host: host.name, files, userData };
  });
}
