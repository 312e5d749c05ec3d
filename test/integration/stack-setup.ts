import { stackDown, stackUp } from "../../local/stack.js";
import { localPlan } from "../../local/lines.js";

/**
 * The integration project's global setup: the real local stack from Pulumi.local.yaml, up once for
 * all integration files, down (nothing left running) at the end, pass or fail.
 */
export async function setup(): Promise<() => Promise<void>> {
  const plan = localPlan();
  const started = Date.now();
  await stackUp(plan, (line) => console.log(`[local stack] ${line}`));
  console.log(`[local stack] up in ${Date.now() - started} ms`);
  return async () => {
    await stackDown(plan);
    console.log("[local stack] down");
  };
}
