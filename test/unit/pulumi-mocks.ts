import * as pulumi from "@pulumi/pulumi";
import { rawStack } from "../../platform/fixtures.js";
import { PROJECT } from "../../platform/config.js";

/**
 * Pulumi under mocks: the engine cannot run here, so resources are echoed back and config comes
 * from the stack file, set the way `pulumi up -s <stack>` would set it.
 */
export async function mockStack(stack: string): Promise<void> {
  const config = Object.fromEntries(
    Object.entries(rawStack(stack)).map(([key, value]) => [
      `${PROJECT}:${key}`,
      JSON.stringify(value),
    ]),
  );
  pulumi.runtime.setAllConfig(config);
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => ({ id: `${args.name}-id`, state: args.inputs }),
      call: (args) => args.inputs,
    },
    PROJECT,
    stack,
    false,
  );
}
