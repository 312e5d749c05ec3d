import { describe, expect, test } from "vitest";
import { loadStack } from "../platform/config.js";
import { dashboards } from "../monitoring/dashboards.js";
import { reviewStack } from "./review.js";

describe.each(["local", "dev", "prod"])("the review render of stack %s", (stack) => {
  const review = reviewStack(loadStack(stack), `stack ${stack}`, stack);
  const paths = review.files.map((f) => f.path);

  test("is deterministic: the same config gives the same files, byte for byte, paths sorted", () => {
    const again = reviewStack(loadStack(stack), `stack ${stack}`, stack);
    expect(again.files).toEqual(review.files);
    expect(paths).toEqual([...paths].sort());
    expect(new Set(paths).size).toBe(paths.length);
  });

  test("holds every generated artifact: hosts, rules and their tests, dashboards, policy report", () => {
    for (const host of review.plan.hosts) {
      expect(paths).toContain(`hosts/${host.name}/pgbouncer.ini`);
      expect(paths).toContain(`hosts/${host.name}/pgbouncer.service`);
      expect(paths.includes(`hosts/${host.name}/user-data.yaml`)).toBe(stack !== "local");
    }
    expect(paths).toEqual(
      expect.arrayContaining(["monitoring/alert-tests.yaml", "policy-report.md"]),
    );
    const deployed =
      stack === "local"
        ? ["alerts.yml", "prometheus.yml"]
        : ["alert-rules.yaml", "scrape-configs.yaml"];
    for (const name of deployed) expect(paths).toContain(`monitoring/${name}`);
    const boards = paths.filter((p) => p.startsWith("monitoring/dashboards/"));
    expect(boards).toHaveLength(dashboards(review.plan).length);
    expect(review.report.mandatoryViolations).toBe(0);
  });

  test("carries no secret: verifiers redacted, no SCRAM key anywhere", () => {
    for (const { path, text } of review.files) {
      expect(text, path).not.toMatch(/SCRAM-SHA-256\$\d+:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:/);
      expect(text, path).not.toMatch(/BEGIN [A-Z ]*PRIVATE KEY/);
    }
  });
});
