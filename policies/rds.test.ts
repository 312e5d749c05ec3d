import { describe, expect, test } from "vitest";
import { loadStack } from "../platform/config.js";
import { buildPlan } from "../platform/plan.js";
import { DEFAULT_POLICY_CONFIG } from "./rules.js";
import { checkRds } from "./rds.js";
import { dev, editResource, fixtureFacts, fixtureResources, prod, rendered } from "./fixtures.js";

const check = (resources = fixtureResources(), plan = prod) =>
  checkRds(fixtureFacts(resources), plan, DEFAULT_POLICY_CONFIG).map((f) => f.message);
const edit = (change: (p: Record<string, unknown>) => void) =>
  check(editResource(fixtureResources(), "primary", change));

describe("pooling-rds-protected", () => {
  test("encrypted, private, protected: nothing to report", () => {
    expect(check()).toEqual([]);
    expect(checkRds(rendered(), prod, DEFAULT_POLICY_CONFIG)).toEqual([]);
  });

  test.each([
    ["storageEncrypted", false, "storageEncrypted must be true, got false"],
    ["storageEncrypted", undefined, "storageEncrypted must be true, got false"],
    ["publiclyAccessible", true, "publiclyAccessible must be false, got true"],
    ["deletionProtection", false, "deletionProtection must be true in prod, got false"],
  ])("%s = %s", (field, value, message) => {
    expect(
      edit((p) => {
        if (value === undefined) delete p[field];
        else p[field] = value;
      }),
    ).toEqual([`aws:rds/instance:Instance primary: ${message}`]);
  });

  test("dev may go without deletion protection", () => {
    expect(
      check(
        editResource(fixtureResources(), "primary", (p) => (p.deletionProtection = false)),
        dev,
      ),
    ).toEqual([]);
  });

  test("a replica inherits its source's encryption", () => {
    const withReplica = (encrypted: boolean) => [
      ...editResource(fixtureResources(), "primary", (p) => (p.storageEncrypted = encrypted)),
      {
        type: "aws:rds/instance:Instance",
        name: "replica",
        props: { replicateSourceDb: "primary", deletionProtection: true },
      },
    ];
    expect(check(withReplica(true))).toEqual([]);
    expect(check(withReplica(false))).toEqual([
      "aws:rds/instance:Instance primary: storageEncrypted must be true, got false",
      "aws:rds/instance:Instance replica: storageEncrypted must be true, got false",
    ]);
  });

  test("offline, the stack config's deletion protection is judged", () => {
    const plan = buildPlan({
      ...loadStack("prod"),
      database: { ...prod.config.database, deletionProtection: false },
    });
    expect(checkRds(rendered(plan), plan, DEFAULT_POLICY_CONFIG).map((f) => f.message)).toEqual([
      "node primary: deletionProtection must be true in prod, got false",
      "node replica1: deletionProtection must be true in prod, got false",
      "node replica2: deletionProtection must be true in prod, got false",
    ]);
  });
});
