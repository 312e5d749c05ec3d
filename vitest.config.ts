import { defineConfig } from "vitest/config";

/**
 * Two projects: `unit` (pure modules, fast, no servers) and `integration` (the real local stack,
 * brought up once by the global setup and taken down after; files run one at a time because they
 * share it).
 */
export default defineConfig({
  test: {
    // A golden file that is missing is a failure, never silently written: goldens change only
    // with `vitest -u`, and the diff is reviewed.
    update: "none",
    projects: [
      {
        test: {
          name: "unit",
          include: [
            "platform/**/*.test.ts",
            "pgbouncer/**/*.test.ts",
            "replicas/**/*.test.ts",
            "resilience/**/*.test.ts",
            "components/**/*.test.ts",
            "policies/**/*.test.ts",
            "monitoring/**/*.test.ts",
            "loadtest/**/*.test.ts",
            "cli/**/*.test.ts",
            "bench/**/*.test.ts",
            "test/unit/**/*.test.ts",
          ],
          exclude: ["**/*.live.test.ts"],
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts", "**/*.live.test.ts"],
          exclude: ["node_modules/**"],
          globalSetup: ["test/integration/stack-setup.ts"],
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
