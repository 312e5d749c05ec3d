import { DEFAULTS } from "../platform/defaults.js";
import { EXPORTER_PORTS } from "../platform/exporters.js";
import type { Plan } from "../platform/plan.js";
import { checkAdminConsole } from "./admin-console.js";
import { checkScram } from "./auth.js";
import { checkBudget } from "./budget.js";
import { checkClientCapacity } from "./client-capacity.js";
import { checkExposure } from "./exposure.js";
import { checkIngress } from "./ingress.js";
import { checkOpenFiles } from "./open-files.js";
import { checkPoolMode } from "./pool-mode.js";
import { checkRds } from "./rds.js";
import { checkSecrets } from "./secrets.js";
import { checkTls } from "./tls.js";
import {
  copyText,
  type EnforcementLevel,
  type Facts,
  type Finding,
  type PolicyConfig,
  type Violation,
} from "./types.js";

/** One rule: a name (the policy's), what it checks, how hard, and the pure check itself. */
export interface Rule {
  name: string;
  description: string;
  enforcementLevel: EnforcementLevel;
  /** `resources`: only a stack's resources carry what it checks; `npm run check` skips it. */
  needs: "artifacts" | "resources";
  check(facts: Facts, plan: Plan, config: PolicyConfig): Finding[];
}

export const DEFAULT_POLICY_CONFIG: PolicyConfig = {
  openFilesMargin: DEFAULTS.openFilesSlack,
  exporterPorts: [...EXPORTER_PORTS],
  strictEnvironments: ["prod"],
};

export const RULES: readonly Rule[] = [
  {
    name: "pooling-connection-budget",
    description:
      "Per Postgres node: max_connections − reserves holds every PgBouncer host's max_db_connections of the entries reaching it, and the hosts left after losing one still carry each entry's peak.",
    enforcementLevel: "mandatory",
    needs: "artifacts",
    check: (facts, plan) => checkBudget(facts, plan),
  },
  {
    name: "pooling-open-files",
    description:
      "Each host's max_client_conn fits in its LimitNOFILE minus its server connections and a margin.",
    enforcementLevel: "mandatory",
    needs: "artifacts",
    check: (facts, _plan, config) => checkOpenFiles(facts, config),
  },
  {
    name: "pooling-pool-mode",
    description:
      "Each entry's pool_mode is what its service's declared session needs require: session where state is pinned, transaction otherwise.",
    enforcementLevel: "mandatory",
    needs: "artifacts",
    check: (facts, plan) => checkPoolMode(facts, plan),
  },
  {
    name: "pooling-client-capacity",
    description:
      "Each host's max_client_conn holds every service's app pool × instances over the hosts left after losing one, plus the admin reserve.",
    enforcementLevel: "mandatory",
    needs: "artifacts",
    check: (facts, plan) => checkClientCapacity(facts, plan),
  },
  {
    name: "pooling-admin-console-local",
    description:
      "PgBouncer's admin console and stats user answer on the unix socket only: over TCP, which the load balancer reaches, the hba rules refuse them.",
    enforcementLevel: "mandatory",
    needs: "artifacts",
    check: (facts) => checkAdminConsole(facts),
  },
  {
    name: "pooling-scram-only",
    description:
      "SCRAM-SHA-256 only: PgBouncer's auth_type or its hba rules, every userlist verifier, RDS password_encryption, role passwords.",
    enforcementLevel: "mandatory",
    needs: "artifacts",
    check: (facts) => checkScram(facts),
  },
  {
    name: "pooling-tls-both-sides",
    description:
      "In prod: PgBouncer requires TLS from clients and to Postgres, and RDS refuses connections without it.",
    enforcementLevel: "mandatory",
    needs: "artifacts",
    check: (facts, plan, config) => checkTls(facts, plan, config),
  },
  {
    name: "pooling-rds-protected",
    description:
      "Every RDS node encrypted and not publicly accessible; deletion protection in prod.",
    enforcementLevel: "mandatory",
    needs: "artifacts",
    check: (facts, plan, config) => checkRds(facts, plan, config),
  },
  {
    name: "pooling-no-world-ingress",
    description:
      "No security group admits a public range on the Postgres port, the PgBouncer port or an exporter port.",
    enforcementLevel: "mandatory",
    needs: "resources",
    check: (facts, plan, config) => checkIngress(facts, plan, config),
  },
  {
    name: "pooling-private-addresses",
    description:
      "PgBouncer hosts and their exporters get no public address; the load balancer is internal.",
    enforcementLevel: "mandatory",
    needs: "resources",
    check: (facts) => checkExposure(facts),
  },
  {
    name: "pooling-no-plaintext-secrets",
    description:
      "No generated password, verifier outside its secret places, md5 hash, connection string with a password or private key in any resource input, user-data (decoded) included.",
    enforcementLevel: "mandatory",
    needs: "resources",
    check: (facts) => checkSecrets(facts),
  },
];

export interface RuleResult {
  rule: Rule;
  enforcementLevel: EnforcementLevel;
  status: "passed" | "violated" | "skipped";
  violations: Violation[];
  /** Why the rule did not run. */
  skipped?: string;
}

/** Every rule on the same facts; a rule that needs resources is skipped on artifacts. */
export function runRules(
  facts: Facts,
  plan: Plan,
  config: PolicyConfig = DEFAULT_POLICY_CONFIG,
  levels: Partial<Record<string, EnforcementLevel>> = {},
): RuleResult[] {
  return RULES.map((rule) => {
    const enforcementLevel = levels[rule.name] ?? rule.enforcementLevel;
    if (enforcementLevel === "disabled")
      return { rule, enforcementLevel, status: "skipped", violations: [], skipped: "disabled" };
    if (rule.needs === "resources" && facts.scope !== "resources") {
      return {
        rule,
        enforcementLevel,
        status: "skipped",
        violations: [],
        skipped: "needs the stack's resources: the policy pack applies it at `pulumi preview`",
      };
    }
    const violations = rule
      .check(facts, plan, config)
      .map((f) => ({ ...f, rule: rule.name, enforcementLevel }));
    return {
      rule,
      enforcementLevel,
      status: violations.length ? "violated" : "passed",
      violations,
    };
  });
}

/** Every violation of every rule, in rule order. */
export function violationsOf(results: readonly RuleResult[]): Violation[] {
  return results.flatMap((r) => r.violations);
}

/** What a first preview cannot know yet, one line per value. */
export function unknownLines(facts: Facts): string[] {
  return facts.unknowns.map((u) => `${copyText(u)} is not known until apply`);
}
