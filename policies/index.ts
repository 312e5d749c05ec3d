import { PolicyPack, type ReportViolation, type StackValidationArgs } from "@pulumi/policy";
import { CONFIG_SCHEMA, evaluate, RULES, runRule, type PackConfig } from "./pack-adapter.js";
import { unknownLines } from "./rules.js";

/**
 * The pg-pooling policy pack: `pulumi preview --policy-pack policies`. Each rule is a stack
 * policy over every resource of the stack; the rules themselves are pure (rules.ts) and the same
 * ones `npm run check` runs offline. This file only wires them into @pulumi/policy.
 */
const report = (
  args: StackValidationArgs,
  violate: ReportViolation,
  outcome: ReturnType<typeof runRule>,
) => {
  if ("error" in outcome) return violate(outcome.error);
  for (const v of outcome) violate(v.message, v.ref.urn);
};

new PolicyPack("pg-pooling", {
  policies: [
    ...RULES.map((rule) => ({
      name: rule.name,
      description: rule.description,
      enforcementLevel: rule.enforcementLevel,
      configSchema: CONFIG_SCHEMA,
      validateStack: (args: StackValidationArgs, violate: ReportViolation) =>
        report(args, violate, runRule(rule, args.resources, args.getConfig<PackConfig>())),
    })),
    {
      name: "pooling-preview-coverage",
      description: "Values the rules could not read because they are unknown until apply.",
      enforcementLevel: "advisory",
      configSchema: CONFIG_SCHEMA,
      validateStack: (args: StackValidationArgs, violate: ReportViolation) => {
        const e = evaluate(args.resources, args.getConfig<PackConfig>());
        if ("error" in e) return;
        e.facts.unknowns.forEach((u, i) =>
          violate(
            `${unknownLines(e.facts)[i]}: checked at the next preview, or offline by npm run check`,
            u.ref.urn,
          ),
        );
      },
    },
  ],
});
