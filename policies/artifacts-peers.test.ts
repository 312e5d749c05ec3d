import { describe, expect, test } from "vitest";
import { loadStack } from "../platform/config.js";
import { buildPlan } from "../platform/plan.js";
import { PRODUCTION_LAYOUT, reviewUpstreams } from "../pgbouncer/layout.js";
import { renderHostFiles, userlistEntries } from "../pgbouncer/render.js";
import { factsFromPlan } from "./artifacts.js";

// GIVEN prod's plan WHEN `npm run check` builds its facts (the review render and the user-data
// read back) THEN each copy of every host's ini carries the [peers] the hosts' files carry.
const prod = buildPlan(loadStack("prod"));

function peersOf(text: string): string {
  return [/^peer_id = .*$/m.exec(text)?.[0], /\n\[peers\]\n[^[]*/.exec(text)?.[0]].join("\n");
}

describe("the review render's [peers]", () => {
  test("the review render the policies read carries the same [peers] as the hosts' files", () => {
    const facts = factsFromPlan(prod, "prod");
    for (const config of facts.hosts) {
      const host = prod.hosts.find((h) => h.name === config.host)!;
      const copy = config.files["pgbouncer.ini"]!.text;
      expect(peersOf(copy), `${config.host} ${config.source}`).toEqual(
        peersOf(
          renderHostFiles({
            plan: prod,
            host,
            upstreams: reviewUpstreams("prod", 2, 5432),
            layout: PRODUCTION_LAYOUT,
            users: userlistEntries(prod, "redacted"),
          })["pgbouncer.ini"],
        ),
      );
    }
    expect(facts.hosts.map((h) => h.source)).toContain("user-data");
    expect(peersOf(facts.hosts[0]!.files["pgbouncer.ini"]!.text)).toMatch(
      /peer_id = 1\n\n\[peers\]\n1 = /,
    );
  });
});
