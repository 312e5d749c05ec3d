import * as pulumi from "@pulumi/pulumi";
import { expect, test } from "vitest";
import { isSecretInput, mockStack, unwrap } from "./pulumi-mocks.js";

// GIVEN ServiceDatabases with auth_query enabled WHEN built THEN each service database gets a
// SECURITY DEFINER lookup only the auth role may execute, and every password input is secret.
const mocked = await mockStack("dev");
const { ServiceDatabases, readerRole } = await import("../../components/service-databases.js");
const verifier = (user: string) => pulumi.secret(`SCRAM-SHA-256$4096:c2FsdA==$${user}=:${user}=`);
new ServiceDatabases("db", {
  connection: {
    host: "127.0.0.1",
    port: 15432,
    username: "pooling_admin",
    password: pulumi.secret("master-password-value"),
    engineVersion: "18.4",
  },
  services: [
    { name: "orders", connectionLimit: 42 },
    { name: "catalog", connectionLimit: 39 },
  ],
  verifiers: Object.fromEntries(
    ["orders", "catalog", "pooling_monitor", "pgbouncer_auth"].map((u) => [u, verifier(u)]),
  ),
  monitoring: { role: "pooling_monitor", connectionLimit: 3 },
  authQuery: { role: "pgbouncer_auth" },
});
await mocked.settle();

const of = (kind: string) => mocked.of(`postgresql:index/${kind}`);

test("a login role and an owned database per service, with the plan's connection limit", () => {
  const roles = of("role:Role").map((r) => r.inputs);
  expect(roles.find((r) => r.name === "orders")).toMatchObject({
    login: true,
    connectionLimit: 42,
  });
  expect(of("database:Database").map((d) => d.inputs)).toEqual(
    expect.arrayContaining([
      expect.objectContaining({ name: "orders", owner: "orders" }),
      expect.objectContaining({ name: "catalog", owner: "catalog" }),
    ]),
  );
  expect(roles.find((r) => r.name === readerRole("orders"))).toMatchObject({ login: false });
  expect(roles.find((r) => r.name === "pooling_monitor")).toMatchObject({
    roles: ["pg_monitor"],
    connectionLimit: 3,
  });
});

test("the provider logs in as the master user over TLS, never assuming superuser", () => {
  const provider = mocked.resources.find((r) => r.type === "pulumi:providers:postgresql")!;
  expect(provider.inputs).toMatchObject({
    host: "127.0.0.1",
    sslmode: "require",
    superuser: "false",
  });
  expect(isSecretInput(provider.inputs.password)).toBe(true);
  for (const role of of("role:Role")) {
    if ("password" in role.inputs)
      expect(isSecretInput(role.inputs.password), role.name).toBe(true);
  }
});

test("PUBLIC loses CONNECT on each database; the reader gets SELECT, now and by default", () => {
  const grants = of("grant:Grant").map((g) => g.inputs);
  expect(grants).toContainEqual(
    expect.objectContaining({
      database: "orders",
      role: "public",
      objectType: "database",
      privileges: [],
    }),
  );
  expect(grants).toContainEqual(
    expect.objectContaining({ role: "orders_reader", objectType: "table", privileges: ["SELECT"] }),
  );
  expect(of("defaultPrivileges:DefaultPrivileges").map((d) => d.inputs)).toContainEqual(
    expect.objectContaining({ owner: "orders", role: "orders_reader", privileges: ["SELECT"] }),
  );
});

test("auth_query: a SECURITY DEFINER function per database, executable by its role only", () => {
  const fns = of("function:Function").map((f) => f.inputs);
  expect(fns.map((f) => f.database).sort()).toEqual(["catalog", "orders"]);
  for (const fn of fns) {
    expect(fn).toMatchObject({ name: "get_auth", securityDefiner: true, language: "sql" });
    expect(fn.body).toContain("pg_catalog.pg_shadow");
  }
  const onFunction = of("grant:Grant")
    .map((g) => g.inputs)
    .filter((g) => g.objectType === "function");
  expect(onFunction.map((g) => [g.database, g.role, g.privileges]).sort()).toEqual([
    ["catalog", "pgbouncer_auth", ["EXECUTE"]],
    ["catalog", "public", []],
    ["orders", "pgbouncer_auth", ["EXECUTE"]],
    ["orders", "public", []],
  ]);
  expect(
    unwrap(of("role:Role").find((r) => r.inputs.name === "pgbouncer_auth")!.inputs.password),
  ).toMatch(/^SCRAM-SHA-256\$/);
});
