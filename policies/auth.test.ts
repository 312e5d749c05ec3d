import { describe, expect, test } from "vitest";
import { checkScram, secretKind } from "./auth.js";
import {
  FIXTURE_PASSWORD,
  editFile,
  editResource,
  fixtureFacts,
  fixtureResources,
  rendered,
  setKey,
} from "./fixtures.js";

const INI = "rendered pgbouncer-1/pgbouncer.ini";
const messages = (facts: Parameters<typeof checkScram>[0]) =>
  checkScram(facts).map((f) => f.message);

describe("pooling-scram-only", () => {
  test("rendered files (verifiers redacted) and the fixture stack use SCRAM only", () => {
    expect(checkScram(rendered())).toEqual([]);
    expect(checkScram(fixtureFacts())).toEqual([]);
  });

  test.each([
    ["md5", "md5"],
    ["trust", "trust"],
    ["plain", "plain"],
  ])("auth_type = %s", (value, got) => {
    const facts = editFile(rendered(), "pgbouncer-1", "rendered", "pgbouncer.ini", (t) =>
      setKey(t, "auth_type", value),
    );
    expect(messages(facts)).toEqual([`${INI}: auth_type must be scram-sha-256 or hba, got ${got}`]);
  });

  test("auth_type absent falls back to PgBouncer's md5", () => {
    const facts = editFile(rendered(), "pgbouncer-1", "rendered", "pgbouncer.ini", (t) =>
      t.replace(/^auth_type = .*\n/m, ""),
    );
    expect(messages(facts)).toEqual([
      `${INI}: auth_type must be scram-sha-256 or hba, got nothing (PgBouncer's md5)`,
    ]);
  });

  test("auth_type = scram-sha-256 without hba rules is SCRAM only too", () => {
    const facts = editFile(rendered(), "pgbouncer-1", "rendered", "pgbouncer.ini", (t) =>
      setKey(t, "auth_type", "scram-sha-256"),
    );
    expect(messages(facts)).toEqual([]);
  });

  test("an hba rule that lets a login in by another method: named by line, with its text", () => {
    const facts = editFile(rendered(), "pgbouncer-1", "rendered", "pgbouncer_hba.conf", (t) =>
      t.replace(/^local all all scram-sha-256$/m, "local all all trust"),
    );
    expect(messages(facts)).toEqual([
      "rendered pgbouncer-1/pgbouncer_hba.conf: line 9 (local all all trust) must use scram-sha-256 or reject, got trust",
    ]);
  });

  test("auth_type = hba with no hba file in the same delivery", () => {
    const facts = rendered();
    delete facts.hosts.find((h) => h.host === "pgbouncer-1")!.files["pgbouncer_hba.conf"];
    expect(messages(facts)).toEqual([
      `${INI}: auth_type = hba needs pgbouncer_hba.conf in the same delivery, got none`,
    ]);
  });

  // GIVEN a stack's facts, offline or from its resources WHEN the rule reads the userlist THEN
  // it reads the copy the hosts install (rendered, or Parameter Store's): user-data has none.
  test("the userlist is read from the rendered copy and Parameter Store, never from user-data", () => {
    const sources = (facts: Parameters<typeof checkScram>[0]) =>
      facts.hosts.filter((h) => h.files["userlist.txt"]).map((h) => `${h.host} ${h.source}`);
    expect(sources(rendered())).toEqual([
      "pgbouncer-1 rendered",
      "pgbouncer-2 rendered",
      "pgbouncer-3 rendered",
    ]);
    expect(rendered().hosts.filter((h) => h.source === "user-data")).toHaveLength(3);
    expect(sources(fixtureFacts())).toEqual(["pgbouncer-1 parameter-store"]);
    const md5 = editResource(fixtureResources(), "userlist", (p) => {
      p.value = `"orders" "md5${"0123456789abcdef".repeat(2)}"\n`;
    });
    expect(messages(fixtureFacts(md5))).toEqual([
      'aws:ssm/parameter:Parameter userlist value: line 1 (user "orders") must hold a SCRAM-SHA-256 verifier, got an md5 hash',
    ]);
  });

  test("a userlist line with an md5 hash or a password: named by line and user, never shown", () => {
    const md5 = "md5" + "0123456789abcdef".repeat(2);
    const edit = (secret: string) =>
      editFile(rendered(), "pgbouncer-2", "rendered", "userlist.txt", (t) =>
        t.replace(/^"orders" ".*"$/m, `"orders" "${secret}"`),
      );
    expect(messages(edit(md5))).toEqual([
      'rendered pgbouncer-2/userlist.txt: line 8 (user "orders") must hold a SCRAM-SHA-256 verifier, got an md5 hash',
    ]);
    const plain = messages(edit("hunter2hunter2"));
    expect(plain).toEqual([
      'rendered pgbouncer-2/userlist.txt: line 8 (user "orders") must hold a SCRAM-SHA-256 verifier, got a plaintext password',
    ]);
    expect(plain.join()).not.toContain("hunter2");
  });

  test("the parameter group's password_encryption", () => {
    const facts = rendered();
    facts.nodes[0]!.parameterGroup!.parameters.password_encryption = "md5";
    expect(messages(facts)).toEqual([
      "rendered parameter group: parameters.password_encryption must be scram-sha-256, got md5",
    ]);
    delete facts.nodes[0]!.parameterGroup!.parameters.password_encryption;
    expect(messages(facts)).toEqual([
      "rendered parameter group: parameters.password_encryption must be scram-sha-256, got nothing (RDS's default)",
    ]);
  });

  test("a role given a password instead of a verifier", () => {
    const resources = editResource(fixtureResources(), "orders", (p) => {
      p.password = FIXTURE_PASSWORD;
    });
    expect(messages(fixtureFacts(resources))).toEqual([
      "postgresql:index/role:Role orders: password of role orders must be a SCRAM-SHA-256 verifier (Postgres must never receive a password), got a plaintext password",
    ]);
  });

  test.each([
    ["md5" + "a".repeat(32), "an md5 hash"],
    ["SCRAM-SHA-256$4096:broken", "a malformed SCRAM verifier"],
    ["", "an empty password"],
    ["s3cret-s3cret", "a plaintext password"],
  ])("secretKind(%j) = %s", (secret, kind) => {
    expect(secretKind(secret)).toBe(kind);
  });
});
