import { gzipSync } from "node:zlib";
import { PROJECT } from "../../platform/config.js";
import type { Plan } from "../../platform/plan.js";
import { decodeUserData } from "../../pgbouncer/cloud-init.js";
import { editResource } from "../../policies/fixtures.js";
import { factsFromResources } from "../../policies/resources.js";
import { runRules, violationsOf } from "../../policies/rules.js";
import type { PlainResource, Violation } from "../../policies/types.js";
import { isSecretInput, type MockedStack } from "./pulumi-mocks.js";

/**
 * The program's resources under mocks, as the policy pack sees a stack's: properties (inputs and
 * the outputs a provider adds) with secrets unwrapped, a URN naming the stack. Then the pack's
 * rules on them, and small hand edits of the resources for the mutated-program tests.
 */
export function unwrapDeep(value: unknown): unknown {
  if (isSecretInput(value)) return unwrapDeep(value.value);
  if (Array.isArray(value)) return value.map(unwrapDeep);
  if (value && typeof value === "object")
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, unwrapDeep(v)]));
  return value;
}

export function plainResources(mocked: MockedStack, stack: string): PlainResource[] {
  return mocked.resources.map((r) => ({
    type: r.type,
    name: r.name,
    urn: `urn:pulumi:${stack}::${PROJECT}::${r.type}::${r.name}`,
    props: unwrapDeep(r.state) as Record<string, unknown>,
  }));
}

export function policyViolations(
  resources: readonly PlainResource[],
  stack: string,
  plan: Plan,
): Violation[] {
  return violationsOf(runRules(factsFromResources(resources, { stack }), plan));
}

/** A deep copy of the resources with one resource's properties changed by `edit`. */
export const edited = editResource;

/** Rewrite one file inside an instance's gzipped user-data, as a hand edit would. */
export function editUserData(props: Record<string, unknown>, edit: (text: string) => string): void {
  const text = edit(decodeUserData(props.userDataBase64 as string));
  props.userDataBase64 = gzipSync(Buffer.from(text, "utf8")).toString("base64");
}

/** `key = value` in an ini or a user-data text, replaced (indentation kept). */
export function setIniKey(text: string, key: string, value: string | number): string {
  const re = new RegExp(`^(\\s*)${key} = .*$`, "m");
  if (!re.test(text)) throw new Error(`no ${key} in the text`);
  return text.replace(re, `$1${key} = ${value}`);
}
