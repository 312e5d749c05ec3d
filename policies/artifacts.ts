import { rdsParameters } from "../components/rds-parameters.js";
import { PRIMARY_NODE, replicaNodeName } from "../platform/nodes.js";
import type { Plan } from "../platform/plan.js";
import { enforcesTls } from "../platform/schema.js";
import { deliveredFileTargets } from "../pgbouncer/delivered-files.js";
import type { Upstreams } from "../pgbouncer/layout.js";
import {
  cloudReviewRender,
  reviewHosts,
  type ReviewHost,
  type StackRender,
} from "../pgbouncer/review.js";
import { filesFromCloudConfig } from "./user-data.js";
import type { Facts, HostConfig, ParameterGroup, PostgresNode } from "./types.js";

/**
 * The plan and the files rendered from it → the facts the rules read, without a Pulumi engine:
 * what `npm run check` checks. Every host's files are rendered exactly as `npm run render`
 * writes them (verifiers redacted, RDS endpoints named under `.invalid`), and for the cloud its
 * user-data is rendered and read back the way the policy pack reads an instance's: without the
 * userlist, which only the rendered copy (the one Parameter Store holds) carries. The parameter
 * group is the one PostgresCluster would create. What only resources carry (security groups,
 * public addresses, encryption, secrets in inputs) is left to the pack.
 */
export function factsFromPlan(
  plan: Plan,
  label: string,
  stack: string = plan.environment,
  /**
   * How the stack renders a host's files, and where its Postgres nodes are. @default the cloud
   * review render (pgbouncer/review.ts); the local stack's comes from the caller (cli/review.ts),
   * which may use local/: policies do not.
   */
  stackRender?: StackRender,
): Facts {
  if (plan.environment === "local" && !stackRender)
    throw new Error("factsFromPlan: a local plan needs the local stack's render (stackRender)");
  const render = stackRender ?? cloudReviewRender(plan);
  return factsFromReview(plan, label, reviewHosts(plan, stack, render), render.upstreams);
}

/** The facts of hosts already rendered for review (pgbouncer/review.ts), and the plan's nodes. */
export function factsFromReview(
  plan: Plan,
  label: string,
  review: readonly ReviewHost[],
  upstreams: Upstreams,
): Facts {
  const parameterGroup = plannedParameterGroup(plan);
  const local = plan.environment === "local";
  const node = (name: string, role: PostgresNode["role"], address: string): PostgresNode => ({
    ref: { type: "node", name },
    node: name,
    role,
    address,
    parameterGroup,
    ...(local ? {} : { deletionProtection: plan.config.database.deletionProtection }),
  });
  return {
    label,
    scope: "artifacts",
    hosts: review.flatMap((h) => hostConfigs(plan, h)),
    nodes: [
      node(PRIMARY_NODE, "primary", upstreams.primary),
      ...upstreams.replicas.map((a, i) => node(replicaNodeName(i), "replica", a)),
    ],
    ingress: [],
    exposures: [],
    roles: [],
    resources: [],
    decoded: [],
    unknowns: [],
  };
}

/** A host's files as rendered, and (in the cloud) as its cloud-init user-data writes them. */
function hostConfigs(plan: Plan, { host, files, userData }: ReviewHost): HostConfig[] {
  const rendered: HostConfig = { host, source: "rendered", files: {} };
  for (const name of Object.keys(deliveredFileTargets(plan))) {
    rendered.files[name] = {
      ref: { type: "rendered", name: `${host}/${name}` },
      field: "",
      text: files[name]!,
    };
  }
  if (userData === undefined) return [rendered];
  const boot: HostConfig = { host, source: "user-data", files: {} };
  for (const [name, f] of Object.entries(filesFromCloudConfig(userData))) {
    boot.files[name] = {
      ref: { type: "rendered", name: `${host}/user-data.yaml` },
      field: `write_files ${f.path}`,
      text: f.text,
    };
  }
  return [rendered, boot];
}

/** The Postgres settings the plan gives every node: the local stack's, or the RDS parameter group. */
function plannedParameterGroup(plan: Plan): ParameterGroup {
  const c = plan.config;
  const local = plan.environment === "local";
  return local
    ? {
        ref: { type: "plan", name: "local Postgres settings" },
        parameters: {
          max_connections: String(plan.maxConnections),
          superuser_reserved_connections: String(c.database.superuserReservedConnections),
        },
        rds: false,
      }
    : {
        ref: { type: "rendered", name: "parameter group" },
        parameters: Object.fromEntries(
          Object.entries(
            rdsParameters({
              maxConnections: plan.maxConnections,
              superuserReservedConnections: c.database.superuserReservedConnections,
              forceSsl: enforcesTls(c.pgbouncer.tls.server),
            }),
          ).map(([k, [v]]) => [k, String(v)]),
        ),
        rds: true,
      };
}
