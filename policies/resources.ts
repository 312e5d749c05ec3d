import { stackParameterRoot } from "../pgbouncer/agent.js";
import { isDeliveredFile } from "../pgbouncer/delivered-files.js";
import { PRIMARY_NODE, replicaNodeName } from "../platform/nodes.js";
import { decodedUserData, userDataFiles } from "./user-data.js";
import type {
  Facts,
  FileCopy,
  HostConfig,
  IngressRule,
  LoginRole,
  ParameterGroup,
  PlainResource,
  PostgresNode,
  PublicExposure,
  Ref,
  UnknownValue,
} from "./types.js";

/**
 * A stack's resources → the plain facts the rules read. The same function serves the policy pack
 * (resources from `pulumi preview`) and the tests (the program's resources under mocks). It reads
 * real properties: each host's files from its user-data and from Parameter Store, each node's
 * parameter group, every ingress permission, whatever could give a host a public address.
 */

/** Resource types read here. */
export const TYPES = {
  rds: "aws:rds/instance:Instance",
  parameterGroup: "aws:rds/parameterGroup:ParameterGroup",
  instance: "aws:ec2/instance:Instance",
  launchTemplate: "aws:ec2/launchTemplate:LaunchTemplate",
  subnet: "aws:ec2/subnet:Subnet",
  securityGroup: "aws:ec2/securityGroup:SecurityGroup",
  securityGroupRule: "aws:ec2/securityGroupRule:SecurityGroupRule",
  ingressRule: "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
  eip: "aws:ec2/eip:Eip",
  eipAssociation: "aws:ec2/eipAssociation:EipAssociation",
  loadBalancers: ["aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer"],
  parameter: "aws:ssm/parameter:Parameter",
  role: "postgresql:index/role:Role",
} as const;

/** The instance tag naming the plan's host (`pgbouncer-1` …) a PgBouncer instance runs. */
export const HOST_TAG = "pg-pooling:host";

/**
 * Pulumi's wire-protocol sentinels for values not known until apply (a first `pulumi preview`).
 * The engine sends every unknown as one of these strings (sdk/go/common/resource/plugin/rpc.go);
 * @pulumi/policy hands them to policies as they are.
 */
export const UNKNOWN_SENTINELS: ReadonlySet<string> = new Set([
  "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",
  "3eeb2bf0-c639-47a8-9e75-3b44932eb421",
  "04da6b54-80e4-46f7-96ec-b56ff0331ba9",
  "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",
  "030794c1-ac77-496b-92df-f27374a8bd58",
  "e48ece36-62e2-4504-bad9-02848725956a",
  "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",
]);

export const isUnknown = (v: unknown): boolean => typeof v === "string" && UNKNOWN_SENTINELS.has(v);

export const refOf = (r: PlainResource): Ref => ({
  type: r.type,
  name: r.name,
  ...(r.urn ? { urn: r.urn } : {}),
});

/** `urn:pulumi:<stack>::<project>::<type>::<name>` → stack. */
export function stackFromUrn(urn: string | undefined): string | undefined {
  return urn ? /^urn:pulumi:([^:]+)::/.exec(urn)?.[1] : undefined;
}

export interface ResourceFactsOptions {
  /** The stack: its Parameter Store root holds the hosts' files. */
  stack: string;
  label?: string;
}

export function factsFromResources(
  resources: readonly PlainResource[],
  options: ResourceFactsOptions,
): Facts {
  const unknowns: UnknownValue[] = [];
  const known = (r: PlainResource, field: string, value: unknown): unknown => {
    if (isUnknown(value)) {
      unknowns.push({ ref: refOf(r), field });
      return undefined;
    }
    return value;
  };
  const prop = (r: PlainResource, field: string) => known(r, field, r.props[field]);
  const of = (type: string | readonly string[]) =>
    resources.filter((r) => (typeof type === "string" ? r.type === type : type.includes(r.type)));

  const decoded: FileCopy[] = [];
  const hosts: HostConfig[] = [];
  for (const r of of(TYPES.instance)) {
    const tags = (prop(r, "tags") ?? {}) as Record<string, unknown>;
    const host = typeof tags[HOST_TAG] === "string" ? (tags[HOST_TAG] as string) : r.name;
    for (const field of ["userDataBase64", "userData"] as const) {
      const copy = decodedUserData(refOf(r), field, prop(r, field), field === "userDataBase64");
      if (!copy) continue;
      decoded.push(copy);
      const files = userDataFiles(copy);
      if (Object.keys(files).length > 0) hosts.push({ host, source: "user-data", files });
    }
  }
  // A template's user-data (base64 in the provider) runs on what it launches: judged for secrets.
  for (const r of of(TYPES.launchTemplate)) {
    const copy = decodedUserData(refOf(r), "userData", prop(r, "userData"), true);
    if (copy) decoded.push(copy);
  }
  const root = stackParameterRoot(options.stack);
  const fromStore = new Map<string, HostConfig>();
  for (const r of of(TYPES.parameter)) {
    const name = prop(r, "name");
    const m = typeof name === "string" ? /^(.+)\/([^/]+)\/([^/]+)$/.exec(name) : null;
    if (!m || m[1] !== root || !isDeliveredFile(m[3]!)) continue;
    const field = r.props.insecureValue !== undefined ? "insecureValue" : "value";
    const text = prop(r, field);
    if (typeof text !== "string") continue;
    const host = m[2]!;
    const config = fromStore.get(host) ?? { host, source: "parameter-store" as const, files: {} };
    config.files[m[3]!] = { ref: refOf(r), field, text };
    fromStore.set(host, config);
  }
  hosts.push(...fromStore.values());
  hosts.sort((a, b) => natural(a.host, b.host) || a.source.localeCompare(b.source));

  const groups = of(TYPES.parameterGroup).map((r) => ({
    resource: r,
    group: parameterGroup(r, (field, v) => known(r, field, v)),
  }));
  const groupOf = (r: PlainResource): ParameterGroup | undefined => {
    const deps = r.propertyDependencies?.parameterGroupName ?? [];
    const byDep = groups.find((g) => deps.includes(g.resource.name));
    if (byDep) return byDep.group;
    const name = r.props.parameterGroupName;
    if (name === undefined) return undefined; // RDS's default group
    const byName = groups.find(
      (g) => g.resource.props.name === name || g.resource.props.id === name,
    );
    if (byName) return byName.group;
    // Unknown at preview (an autonamed group): the stack's one group, when there is only one.
    return isUnknown(name) && groups.length === 1 ? groups[0]!.group : undefined;
  };

  const rds = of(TYPES.rds);
  const primaries = rds.filter((r) => !r.props.replicateSourceDb).sort(byName);
  const replicas = rds.filter((r) => r.props.replicateSourceDb).sort(byName);
  const bool = (r: PlainResource, field: string, absent: boolean | undefined) => {
    const v = prop(r, field);
    return v === undefined ? (isUnknown(r.props[field]) ? undefined : absent) : v === true;
  };
  const node = (r: PlainResource, name: string, role: PostgresNode["role"]): PostgresNode => {
    const address = prop(r, "address") ?? hostOf(prop(r, "endpoint"));
    const source = primaries.find(
      (p) =>
        p.name === r.props.replicateSourceDb || p.props.identifier === r.props.replicateSourceDb,
    );
    // A replica is encrypted exactly when its source is: RDS decides, the input may be absent.
    const encrypted =
      role === "replica" && r.props.storageEncrypted === undefined
        ? source
          ? bool(source, "storageEncrypted", false)
          : undefined
        : bool(r, "storageEncrypted", false);
    return {
      ref: refOf(r),
      node: name,
      role,
      ...(typeof address === "string" ? { address } : {}),
      parameterGroup: groupOf(r),
      storageEncrypted: encrypted,
      publiclyAccessible: bool(r, "publiclyAccessible", false),
      deletionProtection: bool(r, "deletionProtection", false),
    };
  };
  const nodes = [
    ...primaries.map((r, i) => node(r, i === 0 ? PRIMARY_NODE : `primary${i + 1}`, "primary")),
    ...replicas.map((r, i) => node(r, replicaNodeName(i), "replica")),
  ];

  const roles: LoginRole[] = of(TYPES.role).map((r) => {
    const password = prop(r, "password");
    return {
      ref: refOf(r),
      name: String(prop(r, "name") ?? r.name),
      ...(typeof password === "string" ? { password } : {}),
    };
  });

  return {
    label: options.label ?? `stack ${options.stack} (resources)`,
    scope: "resources",
    hosts,
    nodes,
    ingress: ingressRules(of, known),
    exposures: exposures(of, known),
    roles,
    resources: [...resources],
    decoded,
    unknowns,
  };
}

type Of = (type: string | readonly string[]) => PlainResource[];
type Known = (r: PlainResource, field: string, value: unknown) => unknown;

function parameterGroup(r: PlainResource, known: (field: string, v: unknown) => unknown) {
  const parameters: Record<string, string> = {};
  const list = known("parameters", r.props.parameters);
  if (Array.isArray(list)) {
    list.forEach((p: { name?: unknown; value?: unknown }, i) => {
      const value = known(`parameters[${i}].value`, p?.value);
      if (typeof p?.name === "string" && value !== undefined) parameters[p.name] = String(value);
    });
  }
  return { ref: refOf(r), parameters, rds: true };
}

function ingressRules(of: Of, known: Known): IngressRule[] {
  const rules: IngressRule[] = [];
  const num = (v: unknown, fallback: number) => (typeof v === "number" ? v : fallback);
  const add = (
    r: PlainResource,
    field: string,
    protocol: unknown,
    from: unknown,
    to: unknown,
    cidrs: unknown[],
  ) => {
    const proto = String(known(r, `${field}.protocol`, protocol) ?? "-1").toLowerCase();
    const all = proto === "-1" || proto === "all";
    const list = cidrs
      .flatMap((c) => (Array.isArray(c) ? c : [c]))
      .map((c) => known(r, field, c))
      .filter((c): c is string => typeof c === "string");
    if (list.length === 0) return;
    rules.push({
      ref: refOf(r),
      field,
      protocol: all ? "-1" : proto,
      fromPort: all ? 0 : num(known(r, `${field}.fromPort`, from), 0),
      toPort: all ? 65535 : num(known(r, `${field}.toPort`, to), 65535),
      cidrs: list,
    });
  };
  for (const r of of(TYPES.securityGroup)) {
    const ingress = known(r, "ingress", r.props.ingress);
    if (!Array.isArray(ingress)) continue;
    ingress.forEach((i: Record<string, unknown>, n) =>
      add(r, `ingress[${n}]`, i.protocol, i.fromPort, i.toPort, [i.cidrBlocks, i.ipv6CidrBlocks]),
    );
  }
  for (const r of of(TYPES.ingressRule)) {
    const p = r.props;
    add(r, p.cidrIpv6 !== undefined ? "cidrIpv6" : "cidrIpv4", p.ipProtocol, p.fromPort, p.toPort, [
      p.cidrIpv4,
      p.cidrIpv6,
    ]);
  }
  for (const r of of(TYPES.securityGroupRule)) {
    const p = r.props;
    if (p.type !== "ingress") continue;
    add(r, "cidrBlocks", p.protocol, p.fromPort, p.toPort, [p.cidrBlocks, p.ipv6CidrBlocks]);
  }
  return rules;
}

function exposures(of: Of, known: Known): PublicExposure[] {
  const out: PublicExposure[] = [];
  const truthy = (v: unknown) => v === true || v === "true";
  for (const r of of(TYPES.instance)) {
    if (truthy(known(r, "associatePublicIpAddress", r.props.associatePublicIpAddress)))
      out.push({ ref: refOf(r), field: "associatePublicIpAddress", got: "true" });
  }
  for (const r of of(TYPES.launchTemplate)) {
    const nics = known(r, "networkInterfaces", r.props.networkInterfaces);
    if (!Array.isArray(nics)) continue;
    nics.forEach((n: Record<string, unknown>, i) => {
      const field = `networkInterfaces[${i}].associatePublicIpAddress`;
      if (truthy(known(r, field, n?.associatePublicIpAddress)))
        out.push({ ref: refOf(r), field, got: "true" });
    });
  }
  for (const r of of(TYPES.subnet)) {
    if (truthy(known(r, "mapPublicIpOnLaunch", r.props.mapPublicIpOnLaunch)))
      out.push({ ref: refOf(r), field: "mapPublicIpOnLaunch", got: "true" });
  }
  for (const r of of(TYPES.eip)) {
    for (const field of ["instance", "networkInterface"]) {
      const v = r.props[field];
      if (v !== undefined) out.push({ ref: refOf(r), field, got: String(v) });
    }
  }
  for (const r of of(TYPES.eipAssociation)) {
    out.push({ ref: refOf(r), field: "instanceId", got: String(r.props.instanceId ?? "set") });
  }
  for (const r of of(TYPES.loadBalancers)) {
    const internal = known(r, "internal", r.props.internal);
    if (internal !== true && !isUnknown(r.props.internal))
      out.push({ ref: refOf(r), field: "internal", got: String(internal ?? false) });
  }
  return out;
}

function hostOf(endpoint: unknown): string | undefined {
  return typeof endpoint === "string" ? endpoint.replace(/:\d+$/, "") : undefined;
}

/** `pgbouncer-2` before `pgbouncer-10`. */
export function natural(a: string, b: string): number {
  return a.localeCompare(b, "en", { numeric: true });
}

const byName = (a: PlainResource, b: PlainResource) => natural(a.name, b.name);
