import { isUnknown, refOf, TYPES, type Known, type Of } from "./resource-values.js";
import type { IngressRule, PlainResource, PublicExposure } from "./types.js";

/** Every ingress permission: security groups' inline rules and the separate rule resources. */
export function ingressRules(of: Of, known: Known): IngressRule[] {
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

/** Whatever could give a host a public address, or make a load balancer face the internet. */
export function exposures(of: Of, known: Known): PublicExposure[] {
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
