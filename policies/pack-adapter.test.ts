import { describe, expect, test } from "vitest";
import { evaluate, plainResource, runRule } from "./pack-adapter.js";
import { RULES } from "./rules.js";
import { fixtureResources } from "./fixtures.js";

/** What @pulumi/policy hands a stack policy: props behind a proxy that throws on unknowns. */
function policyResource(r: ReturnType<typeof fixtureResources>[number]) {
  const props = new Proxy(r.props, {
    get: (target, key) => {
      if (key === "__getSpecialProxyTarget") return target;
      throw new Error("UnknownValueError");
    },
  });
  return {
    type: r.type,
    name: r.name,
    urn: r.urn!,
    props,
    propertyDependencies: { parameterGroupName: [{ name: "params" }] },
  };
}

describe("the pack's adapter (no PolicyPack constructed)", () => {
  test("props come from the proxy's target, dependencies by name", () => {
    const plain = plainResource(policyResource(fixtureResources()[0]!));
    expect(plain.props).toEqual({ result: expect.any(String) });
    expect(plain.propertyDependencies).toEqual({ parameterGroupName: ["params"] });
  });

  test("the stack from the URNs, its plan from Pulumi.<stack>.yaml, a rule run", () => {
    const resources = fixtureResources().map(policyResource);
    const e = evaluate(resources);
    expect("error" in e ? e.error : e.plan.environment).toBe("prod");
    const rds = RULES.find((r) => r.name === "pooling-rds-protected")!;
    expect(runRule(rds, resources)).toEqual([]);
  });

  test("a stack without a stack file: one clear violation instead of a crash", () => {
    const resources = fixtureResources().map((r) => ({
      ...policyResource(r),
      urn: r.urn!.replace(":prod:", ":staging:"),
    }));
    expect(runRule(RULES[0]!, resources)).toEqual({
      error: expect.stringMatching(
        /^pg-pooling policies: cannot plan stack staging: .*Pulumi\.staging\.yaml/,
      ),
    });
    expect(evaluate([])).toEqual({ error: "pg-pooling policies: no resource URN names a stack" });
  });
});
