import { expect, test } from "vitest";
import { factsFromResources } from "../../policies/resources.js";
import { runProgram } from "./program-checks.js";
import {
  edited,
  editUserData,
  plainResources,
  policyViolations,
  setIniKey,
} from "./program-policies.js";

// GIVEN the prod program under mocks WHEN the policy pack's rules run on its resources THEN none
// is violated; and each hand edit of a resource gives exactly the violation it should.
const { mocked, plan } = await runProgram("prod");
const resources = plainResources(mocked, "prod");
const violations = (list = resources) =>
  policyViolations(list, "prod", plan).map((v) => `[${v.rule}] ${v.message}`);
const INI =
  "aws:ssm/parameter:Parameter pooling-pgbouncer-config-pgbouncer-2-pgbouncer.ini insecureValue";

test("prod: the rules read every host's files from user-data and Parameter Store, and find nothing", () => {
  const facts = factsFromResources(resources, { stack: "prod" });
  expect(facts.hosts.map((h) => `${h.host} ${h.source}`)).toEqual(
    plan.hosts.flatMap((h) => [`${h.name} parameter-store`, `${h.name} user-data`]),
  );
  expect(facts.nodes.map((n) => n.node)).toEqual(plan.budget.map((b) => b.node));
  // the userlist from Parameter Store only: what the SCRAM rule reads, and no user-data writes it
  expect(
    facts.hosts.filter((h) => h.files["userlist.txt"]).map((h) => `${h.host} ${h.source}`),
  ).toEqual(plan.hosts.map((h) => `${h.name} parameter-store`));
  expect(facts.decoded.map((d) => d.ref.name)).toEqual(
    plan.hosts.map((h) => `pooling-pgbouncer-${h.name}`),
  );
  expect(violations()).toEqual([]);
});

// GIVEN the program's resources WHEN a host's user-data is edited to write the userlist again
// THEN the secrets rule names the instance, the field and the file, never the verifier.
test("prod: a userlist written back into one host's user-data is a violation", () => {
  const userlist = resources.find(
    (r) => r.name === "pooling-pgbouncer-config-pgbouncer-1-userlist.txt",
  )!.props.value as string;
  const list = edited(resources, "pooling-pgbouncer-pgbouncer-1", (p) =>
    editUserData(p, (t) =>
      t.replace(
        "write_files:\n",
        `write_files:\n  - path: /etc/pgbouncer/userlist.txt\n    content: |\n${userlist.replace(/^/gm, "      ")}\n`,
      ),
    ),
  );
  const found = violations(list);
  expect(found).toEqual([
    "[pooling-no-plaintext-secrets] aws:ec2/instance:Instance pooling-pgbouncer-pgbouncer-1: userDataBase64 (decoded) → /etc/pgbouncer/userlist.txt must not hold a secret in plain text, got a SCRAM-SHA-256 verifier",
  ]);
  expect(found.join()).not.toMatch(/SCRAM-SHA-256\$\d/);
});

test("prod: a parameter group edited below the plan's max_connections overruns every node's budget", () => {
  // 213 − 31 reserved leaves 182: short of the primary's 273 and of each replica's 189
  const list = edited(resources, "pooling-postgres-params", (p) => {
    (p.parameters as { name: string; value: string }[]).find(
      (x) => x.name === "max_connections",
    )!.value = "213";
  });
  // each replica is charged its own entries only, each sized for the whole ro load
  const shares = (i: number) =>
    `accounts_ro_replica${i} 3×3=9, catalog_ro_replica${i} 3×13=39, identity_ro_replica${i} 3×10=30, notifications_ro_replica${i} 3×3=9, orders_ro_replica${i} 3×7=21, payments_ro_replica${i} 3×3=9, reporting_ro_replica${i} 3×24=72`;
  expect(violations(list)).toEqual([
    "[pooling-connection-budget] aws:rds/instance:Instance pooling-postgres-primary: max_connections = 213 (aws:rds/parameterGroup:ParameterGroup pooling-postgres-params) leaves primary 182 usable connections (max_connections 213 − superuser 3 − replication 5 − exporters 3 − admin 20) but its pools need 273: accounts 3×5=15, catalog 3×10=30, identity 3×10=30, notifications 3×29=87, orders 3×17=51, payments 3×14=42, reporting 3×6=18",
    ...[1, 2].map(
      (i) =>
        `[pooling-connection-budget] aws:rds/instance:Instance pooling-postgres-replica-${i}: max_connections = 213 (aws:rds/parameterGroup:ParameterGroup pooling-postgres-params) leaves replica${i} 182 usable connections (max_connections 213 − superuser 3 − replication 5 − exporters 3 − admin 20) but its pools need 189: ${shares(i)}`,
    ),
  ]);
});

test("prod: md5 in one host's user-data", () => {
  const list = edited(resources, "pooling-pgbouncer-pgbouncer-1", (p) =>
    editUserData(p, (t) => setIniKey(t, "auth_type", "md5")),
  );
  expect(violations(list)).toEqual([
    "[pooling-admin-console-local] aws:ec2/instance:Instance pooling-pgbouncer-pgbouncer-1 userDataBase64 → /etc/pgbouncer/pgbouncer.ini: auth_type must be hba (the rules that keep the admin console off the load balancer's listener), got md5",
    "[pooling-scram-only] aws:ec2/instance:Instance pooling-pgbouncer-pgbouncer-1 userDataBase64 → /etc/pgbouncer/pgbouncer.ini: auth_type must be scram-sha-256 or hba, got md5",
  ]);
});

test("prod: a publicly accessible primary", () => {
  const list = edited(resources, "pooling-postgres-primary", (p) => (p.publiclyAccessible = true));
  expect(violations(list)).toEqual([
    "[pooling-rds-protected] aws:rds/instance:Instance pooling-postgres-primary: publiclyAccessible must be false, got true",
  ]);
});

test("prod: a security group rule opening PgBouncer to the internet", () => {
  const list = [
    ...resources,
    {
      type: "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
      name: "hand-edit",
      props: {
        securityGroupId: "pooling-pgbouncer-hosts-id",
        ipProtocol: "tcp",
        fromPort: 6432,
        toPort: 6432,
        cidrIpv4: "0.0.0.0/0",
      },
    },
  ];
  expect(violations(list)).toEqual([
    "[pooling-no-world-ingress] aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule hand-edit: cidrIpv4 must not admit the internet to 6432 (PgBouncer), got 0.0.0.0/0 on port 6432",
  ]);
});

test("prod: a generated password copied into a tag", () => {
  const password = mocked.passwords.get("pooling-credentials-orders-password")!;
  const list = edited(resources, "pooling-postgres-primary", (p) => {
    p.tags = { ...(p.tags as object), owner: `orders:${password}` };
  });
  expect(violations(list)).toEqual([
    "[pooling-no-plaintext-secrets] aws:rds/instance:Instance pooling-postgres-primary: tags.owner must not hold a secret in plain text, got the generated password of pooling-credentials-orders-password",
  ]);
});

test("prod: LISTEN/NOTIFY moved to transaction pooling in a Parameter Store revision", () => {
  const list = edited(resources, "pooling-pgbouncer-config-pgbouncer-2-pgbouncer.ini", (p) => {
    p.insecureValue = (p.insecureValue as string).replace(
      /^(notifications = .*pool_mode=)session/m,
      "$1transaction",
    );
  });
  expect(violations(list)).toEqual([
    `[pooling-pool-mode] ${INI}: databases.notifications pool_mode must be session for notifications (LISTEN/NOTIFY needs the listening connection to stay with the client), got transaction`,
  ]);
});

test("prod: max_client_conn cut in a Parameter Store revision", () => {
  const list = edited(resources, "pooling-pgbouncer-config-pgbouncer-2-pgbouncer.ini", (p) => {
    p.insecureValue = setIniKey(p.insecureValue as string, "max_client_conn", 1300);
  });
  expect(violations(list)).toEqual([
    `[pooling-client-capacity] ${INI}: max_client_conn must be ≥ 1321 (app pool × instances of every service over 2 of 3 hosts, the busiest holding up to 1301 of all 2440 (the binomial bound, exceeded in ≤ 0.1 % of spreads), + 20 for admin and exporters: accounts 15×6/2=45, catalog 61×15/2=458, identity 43×15/2=323, notifications 7×6/2=21, orders 33×12/2=198, payments 28×9/2=126, reporting 25×4/2=50), got 1300`,
  ]);
});

test("prod: an internet-facing load balancer in front of PgBouncer", () => {
  const list = edited(resources, "pooling-pgbouncer-lb-nlb", (p) => (p.internal = false));
  expect(violations(list)).toEqual([
    "[pooling-private-addresses] aws:lb/loadBalancer:LoadBalancer pooling-pgbouncer-lb-nlb: internal must be true (PgBouncer and its exporters stay on private addresses), got false",
  ]);
});

test("prod: client TLS turned off on one host's revision", () => {
  const list = edited(resources, "pooling-pgbouncer-config-pgbouncer-2-pgbouncer.ini", (p) => {
    p.insecureValue = setIniKey(p.insecureValue as string, "client_tls_sslmode", "disable");
  });
  expect(violations(list)).toEqual([
    `[pooling-tls-both-sides] ${INI}: client_tls_sslmode must be one of require, verify-ca, verify-full in prod, got disable`,
  ]);
});
