import { loadConfigFile, loadStack } from "../platform/config.js";
import type { StackConfig } from "../platform/schema.js";
import { UsageError } from "./args.js";

/** `--stack <name>` or `--config <file>`, exactly one. */
export function configFromArgs(args: Record<string, string>): {
  config: StackConfig;
  label: string;
} {
  if (args.stack && args.config) throw new UsageError("give --stack or --config, not both");
  if (args.stack) return { config: loadStack(args.stack), label: `stack ${args.stack}` };
  if (args.config) return { config: loadConfigFile(args.config), label: args.config };
  throw new UsageError("give --stack <local|dev|prod> or --config <file>");
}
