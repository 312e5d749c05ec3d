import { loadConfigFile, loadStack } from "../platform/config.js";
import { buildPlan, type Plan } from "../platform/plan.js";
import { factsFromResources, natural, stackFromUrn } from "./resources.js";
import { DEFAULT_POLICY_CONFIG, RULES, type Rule } from "./rules.js";
import type { Facts, PlainResource, PolicyConfig, Violation } from "./types.js";

/**
 * What the pack entry (index.ts) needs, kept pure and testable: @pulumi/policy's resources →
 * plain resources, the stack's plan, and one rule run on them. index.ts only wires these into
 * policies.
 */

/** The parts of @pulumi/policy's PolicyResource read here. */
export interface PolicyResourceLike {
  type: string;
  name: string;
  urn: string;
  props: Record<string, unknown>;
  propertyDependencies?: Record<string, readonly { name: string }[]>;
}

/**
 * @pulumi/policy wraps props in a proxy that throws on any unknown value; its target is the plain
 * JSON (unknowns left as Pulumi's sentinels, which the adapter records instead of throwing).
 */
const PROXY_TARGET = "__getSpecialProxyTarget";

export function plainResource(r: PolicyResourceLike): PlainResource {
  const target = (r.props as Record<string, unknown>)[PROXY_TARGET];
  const props = (target && typeof target === "object" ? target : r.props) as Record<
    string,
    unknown
  >;
  const deps = Object.entries(r.propertyDependencies ?? {}).map(
    ([k, list]) => [k, list.map((d) => d.name)] as const,
  );
  return {
    type: r.type,
    name: r.name,
    urn: r.urn,
    props,
    ...(deps.length ? { propertyDependencies: Object.fromEntries(deps) } : {}),
  };
}

/** Policy config, as `--policy-pack-config` gives it to each policy. */
export interface PackConfig extends Partial<PolicyConfig> {
  /** A stack file to plan from instead of `Pulumi.<stack>.yaml` beside the program. */
  stackConfig?: string;
}

export interface Evaluation {
  stack: string;
  plan: Plan;
  facts: Facts;
  config: PolicyConfig;
}

/** The stack (from the resources' URNs), its plan, and the facts of its resources. */
export function evaluate(
  resources: readonly PolicyResourceLike[],
  packConfig: PackConfig = {},
): Evaluation | { error: string } {
  const stacks = [...new Set(resources.flatMap((r) => stackFromUrn(r.urn) ?? []))];
  const stack = stacks.sort(natural)[0];
  if (!stack) return { error: "pg-pooling policies: no resource URN names a stack" };
  let plan: Plan;
  try {
    const config = packConfig.stackConfig
      ? loadConfigFile(packConfig.stackConfig)
      : loadStack(stack);
    plan = buildPlan(config, { enforceBudget: false });
  } catch (e) {
    return { error: `pg-pooling policies: cannot plan stack ${stack}: ${(e as Error).message}` };
  }
  const config: PolicyConfig = {
    openFilesMargin: packConfig.openFilesMargin ?? DEFAULT_POLICY_CONFIG.openFilesMargin,
    exporterPorts: packConfig.exporterPorts ?? DEFAULT_POLICY_CONFIG.exporterPorts,
    strictEnvironments: packConfig.strictEnvironments ?? DEFAULT_POLICY_CONFIG.strictEnvironments,
  };
  const facts = factsFromResources(resources.map(plainResource), { stack });
  return { stack, plan, facts, config };
}

/** One rule on a stack's resources: its violations, or the reason none could be judged. */
export function runRule(
  rule: Rule,
  resources: readonly PolicyResourceLike[],
  packConfig: PackConfig = {},
): Violation[] | { error: string } {
  const e = evaluate(resources, packConfig);
  if ("error" in e) return e;
  return rule
    .check(e.facts, e.plan, e.config)
    .map((f) => ({ ...f, rule: rule.name, enforcementLevel: rule.enforcementLevel }));
}

/** The policy config schema every rule accepts (JSON schema, as @pulumi/policy takes it). */
export const CONFIG_SCHEMA = {
  properties: {
    stackConfig: {
      type: "string",
      description: "stack file to plan from (default Pulumi.<stack>.yaml)",
    },
    openFilesMargin: {
      type: "integer",
      minimum: 0,
      default: DEFAULT_POLICY_CONFIG.openFilesMargin,
    },
    exporterPorts: {
      type: "array",
      items: { type: "integer", minimum: 1, maximum: 65535 },
      default: DEFAULT_POLICY_CONFIG.exporterPorts,
    },
    strictEnvironments: {
      type: "array",
      items: { type: "string" },
      default: DEFAULT_POLICY_CONFIG.strictEnvironments,
    },
  },
} as const;

export { RULES };
