import { describe, expect, test } from "vitest";
import { DEFAULT_POLICY_CONFIG } from "./rules.js";
import { checkTls } from "./tls.js";
import { dev, editFile, prod, rendered, setKey } from "./fixtures.js";

const INI = "rendered pgbouncer-1/pgbouncer.ini";

describe("pooling-tls-both-sides", () => {
  test("prod requires TLS on both sides and RDS forces it; dev (not strict) is not judged", () => {
    expect(checkTls(rendered(prod), prod, DEFAULT_POLICY_CONFIG)).toEqual([]);
    expect(checkTls(rendered(dev), dev, DEFAULT_POLICY_CONFIG)).toEqual([]);
  });

  test("client TLS only preferred in prod", () => {
    const facts = editFile(rendered(), "pgbouncer-1", "rendered", "pgbouncer.ini", (t) =>
      setKey(t, "client_tls_sslmode", "prefer"),
    );
    expect(checkTls(facts, prod, DEFAULT_POLICY_CONFIG).map((f) => f.message)).toEqual([
      `${INI}: client_tls_sslmode must be one of require, verify-ca, verify-full in prod, got prefer`,
    ]);
  });

  test("server TLS unset in prod falls back to PgBouncer's prefer", () => {
    const facts = editFile(rendered(), "pgbouncer-1", "rendered", "pgbouncer.ini", (t) =>
      t.replace(/^server_tls_sslmode = .*\n/m, ""),
    );
    expect(checkTls(facts, prod, DEFAULT_POLICY_CONFIG).map((f) => f.message)).toEqual([
      `${INI}: server_tls_sslmode must be one of require, verify-ca, verify-full in prod, got nothing (PgBouncer's prefer)`,
    ]);
  });

  test("RDS not forcing TLS in prod", () => {
    const facts = rendered();
    facts.nodes[0]!.parameterGroup!.parameters["rds.force_ssl"] = "0";
    expect(checkTls(facts, prod, DEFAULT_POLICY_CONFIG).map((f) => f.message)).toEqual([
      "rendered parameter group: parameters.rds.force_ssl must be 1 in prod, got 0",
    ]);
  });

  test("strictEnvironments is configuration: dev made strict fails on its preferred client TLS", () => {
    const config = { ...DEFAULT_POLICY_CONFIG, strictEnvironments: ["dev", "prod"] };
    expect(checkTls(rendered(dev), dev, config).map((f) => f.message)).toEqual([
      "rendered pgbouncer-1/pgbouncer.ini: client_tls_sslmode must be one of require, verify-ca, verify-full in dev, got prefer",
      "rendered pgbouncer-1/user-data.yaml write_files /etc/pgbouncer/pgbouncer.ini: client_tls_sslmode must be one of require, verify-ca, verify-full in dev, got prefer",
    ]);
  });
});
