import { rdsParameters } from "../components/rds-parameters.js";
import { PRIMARY_NODE, replicaNodeName } from "../platform/nodes.js";
import type { HostPlan, Plan } from "../platform/plan.js";
import { enforcesTls } from "../platform/schema.js";
import { reviewAgentSettings } from "../pgbouncer/agent.js";
import { deliveredFileTargets, deliveredFiles, publicFiles } from "../pgbouncer/delivered-files.js";
import { renderCloudInit } from "../pgbouncer/cloud-init.js";
import { PRODUCTION_LAYOUT, reviewUpstreams, type Upstreams } from "../pgbouncer/layout.js";
import { renderHostFiles, userlistEntries, type HostFiles } from "../pgbouncer/render.js";
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
   * render (production layout) and review upstreams; the local stack's come from the caller
   * (cli/check.ts), which may use local/: policies do not.
   */
  stackRender?: { hostFiles: (host: HostPlan) => HostFiles; upstreams: Upstreams },
): Facts {
  const c = plan.config;
  const local = plan.environment === "local";
  if (local && !stackRender)
    throw new Error("factsFromPlan: a local plan needs the local stack's render (stackRender)");
  const upstreams =
    stackRender?.upstreams ??
    reviewUpstreams(plan.environment, c.database.replicas, c.database.port);
  const render =
    stackRender?.hostFiles ??
    ((host: HostPlan) =>
      renderHostFiles({
        plan,
        host,
        upstreams,
        layout: PRODUCTION_LAYOUT,
        users: userlistEntries(plan, "redacted"),
      }));
  const hosts = hostConfigs(plan, stack, render);

  const parameterGroup = plannedParameterGroup(plan);
  const node = (name: string, role: PostgresNode["role"], address: string): PostgresNode => ({
    ref: { type: "node", name },
    node: name,
    role,
    address,
    parameterGroup,
    ...(local ? {} : { deletionProtection: c.database.deletionProtection }),
  });
  return {
    label,
    scope: "artifacts",
    hosts,
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

/** Each host's files as rendered, and (in the cloud) as its cloud-init user-data writes them. */
function hostConfigs(
  plan: Plan,
  stack: string,
  render: (host: HostPlan) => HostFiles,
): HostConfig[] {
  const local = plan.environment === "local";
  const hosts: HostConfig[] = [];
  for (const host of plan.hosts) {
    const files = deliveredFiles(plan, render(host));
    const rendered: HostConfig = { host: host.name, source: "rendered", files: {} };
    for (const name of Object.keys(deliveredFileTargets(plan))) {
      rendered.files[name] = {
        ref: { type: "rendered", name: `${host.name}/${name}` },
        field: "",
        text: files[name]!,
      };
    }
    hosts.push(rendered);
    if (local) continue;
    const userData = renderCloudInit({
      plan,
      host,
      files: publicFiles(files),
      agent: reviewAgentSettings(stack, host.name),
    });
    const boot: HostConfig = { host: host.name, source: "user-data", files: {} };
    for (const [name, f] of Object.entries(filesFromCloudConfig(userData))) {
      boot.files[name] = {
        ref: { type: "rendered", name: `${host.name}/user-data.yaml` },
        field: `write_files ${f.path}`,
        text: f.text,
      };
    }
    hosts.push(boot);
  }
  return hosts;
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
