import { stackParameterRoot } from "../pgbouncer/agent.js";
import { isDeliveredFile } from "../pgbouncer/delivered-files.js";
import { PRIMARY_NODE, replicaNodeName } from "../platform/nodes.js";
import { exposures, ingressRules } from "./network-facts.js";
import {
  HOST_TAG,
  isUnknown,
  refOf,
  TYPES,
  type Known,
  type Of,
  type Prop,
} from "./resource-values.js";
import { decodedUserData, userDataFiles } from "./user-data.js";
import type {
  Facts,
  FileCopy,
  HostConfig,
  LoginRole,
  ParameterGroup,
  PlainResource,
  PostgresNode,
  UnknownValue,
} from "./types.js";

/**
 * A stack's resources → the plain facts the rules read. The same function serves the policy pack
 * (resources from `pulumi preview`) and the tests (the program's resources under mocks). It reads
 * real properties: each host's files from its user-data and from Parameter Store, each node's
 * parameter group, every ingress permission, whatever could give a host a public address.
 */

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
  const known: Known = (r, field, value) => {
    if (isUnknown(value)) {
      unknowns.push({ ref: refOf(r), field });
      return undefined;
    }
    return value;
  };
  const prop: Prop = (r, field) => known(r, field, r.props[field]);
  const of: Of = (type) =>
    resources.filter((r) => (typeof type === "string" ? r.type === type : type.includes(r.type)));
  const { hosts, decoded } = hostFiles(of, prop, stackParameterRoot(options.stack));
  const nodes = postgresNodes(of, known, prop);
  const roles = loginRoles(of, prop);
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

/**
 * Each host's files, from its instance's user-data and from Parameter Store under the stack's
 * root; and every user-data decoded (a launch template's too), for the secrets rule.
 */
function hostFiles(of: Of, prop: Prop, root: string): { hosts: HostConfig[]; decoded: FileCopy[] } {
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
  hosts.push(...storedHostFiles(of, prop, root));
  hosts.sort((a, b) => natural(a.host, b.host) || a.source.localeCompare(b.source));
  return { hosts, decoded };
}

/** The delivered files stored as parameters `<root>/<host>/<file>`, per host. */
function storedHostFiles(of: Of, prop: Prop, root: string): HostConfig[] {
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
  return [...fromStore.values()];
}

/** The RDS instances: primaries first, then replicas, each with its parameter group. */
function postgresNodes(of: Of, known: Known, prop: Prop): PostgresNode[] {
  const groupOf = parameterGroupOf(of, known);
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
  return [
    ...primaries.map((r, i) => node(r, i === 0 ? PRIMARY_NODE : `primary${i + 1}`, "primary")),
    ...replicas.map((r, i) => node(r, replicaNodeName(i), "replica")),
  ];
}

/** Which parameter group an RDS instance uses: by dependency, by name, or the stack's only one. */
function parameterGroupOf(of: Of, known: Known): (r: PlainResource) => ParameterGroup | undefined {
  const groups = of(TYPES.parameterGroup).map((r) => ({
    resource: r,
    group: parameterGroup(r, (field, v) => known(r, field, v)),
  }));
  return (r: PlainResource): ParameterGroup | undefined => {
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
}

function loginRoles(of: Of, prop: Prop): LoginRole[] {
  return of(TYPES.role).map((r) => {
    const password = prop(r, "password");
    return {
      ref: refOf(r),
      name: String(prop(r, "name") ?? r.name),
      ...(typeof password === "string" ? { password } : {}),
    };
  });
}

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

function hostOf(endpoint: unknown): string | undefined {
  return typeof endpoint === "string" ? endpoint.replace(/:\d+$/, "") : undefined;
}

/** `pgbouncer-2` before `pgbouncer-10`. */
export function natural(a: string, b: string): number {
  return a.localeCompare(b, "en", { numeric: true });
}

const byName = (a: PlainResource, b: PlainResource) => natural(a.name, b.name);
