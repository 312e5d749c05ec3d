import * as pulumi from "@pulumi/pulumi";
import { buildPlan } from "./platform/plan.js";
import { clientProfiles } from "./platform/profiles.js";
import { STACK_KEYS } from "./platform/schema.js";
import { validateStackConfig } from "./platform/validate.js";

/**
 * The Pulumi entry: stack config → validated spec → plan → (components, issue 3) → outputs.
 * The `local` stack is not a cloud environment: it is run by `npm run local -- up` on this machine,
 * so `pulumi up -s local` stops here with a message saying so.
 */
const stack = pulumi.getStack();
if (stack === "local") {
  throw new pulumi.RunError(
    "the 'local' stack is not deployed with Pulumi: it runs on this machine from Pulumi.local.yaml. " +
      "Use `npm run local -- up` (or `npm run demo`), and `pulumi up -s dev|prod` for the cloud.",
  );
}

const cfg = new pulumi.Config();
const raw = Object.fromEntries(STACK_KEYS.map((key) => [key, cfg.getObject(key)]));
const plan = buildPlan(validateStackConfig(raw, `stack ${stack}`));

export const environment = plan.environment;
export const pgbouncerVersion = plan.pgbouncerVersion.join(".");
export const budget = plan.budget.map(({ node, usable, required, free }) => ({
  node,
  usable,
  required,
  free,
}));
export const pools = plan.entries.map(
  ({ name, target, poolMode, poolSize, reservePoolSize, maxDbConnections }) => ({
    name,
    target,
    poolMode,
    poolSize,
    reservePoolSize,
    maxDbConnections,
  }),
);
export const profiles = clientProfiles(plan);
