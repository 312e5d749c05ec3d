import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { gzipSync } from "node:zlib";
import { describe, expect, test } from "vitest";
import { editResource, fixtureFacts, fixtureResources } from "./fixtures.js";
import { UNKNOWN_SENTINELS } from "./resource-values.js";
import { factsFromResources, stackFromUrn } from "./resources.js";
import type { PlainResource } from "./types.js";

const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

describe("resources → facts", () => {
  test("the unknown sentinels are @pulumi/policy's (read from its source, not imported)", () => {
    const file = createRequire(import.meta.url).resolve("@pulumi/policy/proxy.js");
    const theirs = [
      ...readFileSync(file, "utf8").matchAll(/exports\.unknown\w+Value = "([0-9a-f-]{36})"/g),
    ].map((m) => m[1]);
    expect(new Set(theirs)).toEqual(UNKNOWN_SENTINELS);
  });

  test("the stack of a URN", () => {
    expect(stackFromUrn("urn:pulumi:prod::pg-pooling::aws:rds/instance:Instance::x")).toBe("prod");
    expect(stackFromUrn(undefined)).toBeUndefined();
  });

  test("hosts from gzipped user-data and Parameter Store; nodes, their group, roles", () => {
    const facts = fixtureFacts();
    // the userlist from Parameter Store, the only place it is: user-data writes none
    expect(facts.hosts.map((h) => [h.host, h.source, Object.keys(h.files)])).toEqual([
      ["pgbouncer-1", "parameter-store", ["userlist.txt"]],
      ["pgbouncer-1", "user-data", ["pgbouncer_hba.conf"]],
    ]);
    expect(facts.hosts[0]!.files["userlist.txt"]!.field).toBe("value");
    expect(facts.hosts[1]!.files["pgbouncer_hba.conf"]!.field).toBe(
      "userDataBase64 → /etc/pgbouncer/pgbouncer_hba.conf",
    );
    expect(facts.nodes).toMatchObject([
      {
        node: "primary",
        role: "primary",
        storageEncrypted: true,
        publiclyAccessible: false,
        deletionProtection: true,
      },
    ]);
    expect(facts.nodes[0]!.parameterGroup?.parameters.max_connections).toBe("1000");
    expect(facts.roles.map((r) => r.name)).toEqual(["orders"]);
    expect(facts.unknowns).toEqual([]);
  });

  test("another stack's parameters are not this stack's hosts; plain-text user-data is read too", () => {
    const resources = editResource(fixtureResources(), "userlist", (p) => {
      p.name = "/pg-pooling/dev/pgbouncer-1/userlist.txt";
    });
    const plain = editResource(resources, "pgbouncer-1", (p) => {
      delete p.userDataBase64;
      p.userData = `#cloud-config\nwrite_files:\n  - path: /etc/pgbouncer/pgbouncer.ini\n    encoding: gz+b64\n    content: ${gzipSync("[pgbouncer]\n").toString("base64")}\n`;
    });
    expect(
      fixtureFacts(plain).hosts.map((h) => [
        h.source,
        Object.keys(h.files),
        h.files["pgbouncer.ini"]?.text,
      ]),
    ).toEqual([["user-data", ["pgbouncer.ini"], "[pgbouncer]\n"]]);
  });

  test("values unknown at preview are listed, not guessed; an autonamed group is the stack's only one", () => {
    let resources = editResource(
      fixtureResources(),
      "pgbouncer-1",
      (p) => (p.userDataBase64 = UNKNOWN),
    );
    resources = editResource(resources, "primary", (p) => {
      p.parameterGroupName = UNKNOWN;
      p.publiclyAccessible = UNKNOWN;
    });
    const facts = fixtureFacts(resources);
    expect(facts.unknowns.map((u) => `${u.ref.name} ${u.field}`)).toEqual([
      "pgbouncer-1 userDataBase64",
      "primary publiclyAccessible",
    ]);
    expect(facts.hosts.map((h) => h.source)).toEqual(["parameter-store"]);
    expect(facts.nodes[0]!.publiclyAccessible).toBeUndefined();
    expect(facts.nodes[0]!.parameterGroup?.ref.name).toBe("params");
  });

  test("a node's group by property dependency when there are several", () => {
    const other: PlainResource = {
      type: "aws:rds/parameterGroup:ParameterGroup",
      name: "other",
      props: { parameters: [{ name: "max_connections", value: "50" }] },
    };
    const resources = editResource(
      [...fixtureResources(), other],
      "primary",
      (p) => (p.parameterGroupName = UNKNOWN),
    );
    resources.find((r) => r.name === "primary")!.propertyDependencies = {
      parameterGroupName: ["other"],
    };
    expect(
      factsFromResources(resources, { stack: "prod" }).nodes[0]!.parameterGroup?.parameters,
    ).toEqual({
      max_connections: "50",
    });
  });
});
