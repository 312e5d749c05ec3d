import * as pulumi from "@pulumi/pulumi";
import { Credentials } from "./components/credentials.js";
import { CLOUD_DEFAULTS, stackTags } from "./components/defaults.js";
import { Monitoring } from "./components/monitoring.js";
import { Network } from "./components/network.js";
import { PgBouncerFleet } from "./components/pgbouncer-fleet.js";
import { PostgresCluster } from "./components/postgres-cluster.js";
import { ServiceDatabases } from "./components/service-databases.js";
import { connectionUri } from "./platform/dsn.js";
import { isConfigError } from "./platform/errors.js";
import { endpointDns } from "./platform/network.js";
import { buildPlan, type Plan } from "./platform/plan.js";
import { renderExporterPgpass } from "./monitoring/exporter-units.js";
import { clientProfiles } from "./platform/profiles.js";
import { MONITORING_ROLE } from "./platform/roles.js";
import { enforcesTls, STACK_KEYS } from "./platform/schema.js";
import { validateStackConfig } from "./platform/validate.js";
import { ADMIN_USER, STATS_USER } from "./pgbouncer/layout.js";
import { pgbouncerAccounts } from "./pgbouncer/render.js";

/**
 * The Pulumi entry: stack config → validated spec → plan → components → outputs. Everything is
 * validated and planned before the first resource, so a bad config creates nothing and reports
 * every problem at once, the same list `npm run plan` prints. The `local` stack is not a cloud
 * environment: it is run by `npm run local -- up` on this machine, so `pulumi up -s local` stops
 * here with a message saying so.
 */
const stack = pulumi.getStack();
if (stack === "local") {
  throw new pulumi.RunError(
    "the 'local' stack is not deployed with Pulumi: it runs on this machine from Pulumi.local.yaml. " +
      "Use `npm run local -- up` (or `npm run demo`), and `pulumi up -s dev|prod` for the cloud.",
  );
}

const cfg = new pulumi.Config();
/** Pulumi hands a map over as JSON and a string as it is (`environment: dev` is not JSON). */
function configValue(key: string): unknown {
  const text = cfg.get(key);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
const raw = Object.fromEntries(STACK_KEYS.map((key) => [key, configValue(key)]));
function planOrExplain(): Plan {
  try {
    return buildPlan(validateStackConfig(raw, `stack ${stack}`));
  } catch (e) {
    // A RunError prints its message alone: the problem list, not a stack trace.
    if (isConfigError(e)) throw new pulumi.RunError(e.message);
    throw e;
  }
}
const plan = planOrExplain();
const c = plan.config;
const region = new pulumi.Config("aws").require("region");
const tags = stackTags(stack, plan.environment);

const network = new Network("pooling", {
  vpcCidr: c.network.vpcCidr,
  azs: c.network.azs,
  natGateways: c.network.natGateways,
  tags,
});

const cluster = new PostgresCluster("pooling-postgres", {
  engineVersion: c.database.engineVersion,
  instanceClass: c.database.instanceClass,
  maxConnections: plan.maxConnections,
  superuserReservedConnections: c.database.superuserReservedConnections,
  replicas: c.database.replicas,
  port: c.database.port,
  multiAz: c.database.multiAz,
  storageGb: c.database.storageGb,
  maxStorageGb: c.database.maxStorageGb,
  backupRetentionDays: c.database.backupRetentionDays,
  deletionProtection: c.database.deletionProtection,
  finalSnapshot: c.database.finalSnapshot,
  // PgBouncer verifies or requires TLS to the server: make the server refuse anything else.
  forceSsl: enforcesTls(c.pgbouncer.tls.server),
  vpcId: network.vpcId,
  subnetIds: network.privateSubnetIds,
  availabilityZones: network.availabilityZones,
  tags,
});

const credentials = new Credentials("pooling-credentials", {
  accounts: [...pgbouncerAccounts(plan), MONITORING_ROLE],
});
const verifiers = (accounts: string[]) =>
  Object.fromEntries(accounts.map((a) => [a, credentials.accounts[a]!.verifier]));

const fleet = new PgBouncerFleet("pooling-pgbouncer", {
  plan,
  stack,
  region,
  instanceType: c.pgbouncer.instanceType,
  vpcId: network.vpcId,
  subnetIds: network.privateSubnetIds,
  clientSecurityGroupId: network.clientSecurityGroupId,
  database: {
    primary: cluster.primaryAddress,
    replicas: cluster.replicaAddresses,
    port: cluster.port,
    securityGroupId: cluster.securityGroupId,
  },
  verifiers: verifiers(pgbouncerAccounts(plan)),
  exporterPgpass: pulumi.secret(
    pulumi
      .all([
        credentials.accounts[STATS_USER]!.password,
        credentials.accounts[MONITORING_ROLE]!.password,
      ])
      .apply(([stats, monitoring]) => renderExporterPgpass({ stats, monitoring })),
  ),
  dns: endpointDns(c.pgbouncer.endpoint),
  tags,
});

// Scrape configs, alert rules and dashboards in the cluster of the Prometheus operator and Grafana
// (the default Kubernetes provider: the kubeconfig of whoever runs `pulumi up`).
const monitoring = new Monitoring("pooling-monitoring", {
  plan,
  hostAddresses: fleet.privateIps,
});

// Through an SSM tunnel on a PgBouncer host (docs/deploying.md): the primary admits those only.
new ServiceDatabases(
  "pooling-databases",
  {
    connection: {
      host: CLOUD_DEFAULTS.adminTunnel.host,
      port: CLOUD_DEFAULTS.adminTunnel.port,
      username: cluster.masterUsername,
      password: cluster.masterPassword,
      engineVersion: c.database.engineVersion,
    },
    services: plan.services.map((s) => ({ name: s.name, connectionLimit: s.roleConnectionLimit })),
    verifiers: verifiers([...plan.services.map((s) => s.name), MONITORING_ROLE]),
    monitoring: {
      role: MONITORING_ROLE,
      connectionLimit: c.database.reservedConnections.exporters,
    },
  },
  { dependsOn: [fleet] },
);

export const environment = plan.environment;
export const pgbouncerVersion = plan.pgbouncerVersion.join(".");
export const budget = plan.budget.map(({ node, usable, required, free }) => ({
  node,
  usable,
  required,
  free,
}));
export const pools = plan.entries.map(
  ({ name, node, target, poolMode, poolSize, reservePoolSize, maxDbConnections }) => ({
    name,
    node,
    target,
    poolMode,
    poolSize,
    reservePoolSize,
    maxDbConnections,
  }),
);
/** What each service is configured with: endpoints, its pool, timeouts. No secret in it. */
export const profiles = clientProfiles(plan);
/**
 * Per service, the rw connection string and one per replica (`replicas`, in replica order, each to
 * that replica's own ro entry; empty when the service reads nothing from replicas), with the
 * password: secrets.
 */
export const connectionStrings = Object.fromEntries(
  profiles.map((p) => {
    const password = credentials.accounts[p.service]!.password;
    const uri = (e: typeof p.rw) =>
      pulumi.secret(password.apply((pw) => connectionUri(e, pw, p.tls)));
    return [p.service, { rw: uri(p.rw), replicas: p.replicas.map(uri) }];
  }),
);
/** PgBouncer's consoles (SHOW …) and the exporters' login: passwords are secrets. */
export const operatorLogins = {
  pgbouncerAdmin: { user: ADMIN_USER, password: credentials.accounts[ADMIN_USER]!.password },
  pgbouncerStats: { user: STATS_USER, password: credentials.accounts[STATS_USER]!.password },
  monitoring: { user: MONITORING_ROLE, password: credentials.accounts[MONITORING_ROLE]!.password },
};
/**
 * The fleet CA's certificate (PEM, not secret): services mount it at DEFAULTS.client.caFile and
 * verify PgBouncer with verify-full against it (profiles' `tls.caFile`, connection strings'
 * `sslrootcert`). Absent when PgBouncer offers clients no TLS.
 */
export const pgbouncerCaCertificate = fleet.caCertificate;
export const pgbouncerEndpoint = {
  host: c.pgbouncer.endpoint,
  port: c.pgbouncer.port,
  loadBalancer: fleet.loadBalancerDnsName,
  hosts: fleet.instanceIds,
};
export const postgresEndpoints = {
  primary: cluster.primaryAddress,
  replicas: cluster.replicaAddresses,
  port: cluster.port,
};
/** The security group the services' workloads attach to reach PgBouncer. */
export const clientSecurityGroupId = network.clientSecurityGroupId;
/** What the last `pulumi up` asked the hosts to do, and why. */
export const pgbouncerRollout = {
  action: fleet.rollout.action,
  reasons: fleet.rollout.reasons,
  revision: fleet.rollout.revision,
  associationId: fleet.associationId,
};
/** Where kube-prometheus-stack finds the scrape configs (additionalScrapeConfigsSecret). */
export const monitoringResources = {
  namespace: c.monitoring.namespace,
  scrapeConfigsSecret: monitoring.scrapeConfigsSecret,
  prometheusRule: monitoring.ruleName,
  dashboards: monitoring.dashboardConfigMaps,
};
/** Opens the tunnel role management needs (run it, then `pulumi up`). */
export const adminTunnelCommand = pulumi.interpolate`aws ssm start-session --region ${region} --target ${fleet.instanceIds[0]!} --document-name AWS-StartPortForwardingSessionToRemoteHost --parameters host=${cluster.primaryAddress},portNumber=${cluster.port},localPortNumber=${CLOUD_DEFAULTS.adminTunnel.port}`;
