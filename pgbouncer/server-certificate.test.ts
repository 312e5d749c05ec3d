import { describe, expect, test } from "vitest";
import { rawStack, withField } from "../platform/fixtures.js";
import { buildPlan } from "../platform/plan.js";
import { validateStackConfig } from "../platform/validate.js";
import { fleetCaName, serverCertificateNames } from "./server-certificate.js";

const planWith = (endpoint: string) =>
  buildPlan(validateStackConfig(withField(rawStack("prod"), "pgbouncer.endpoint", endpoint)));
const long = `${"a".repeat(60)}.prod.db.internal`;

describe("what PgBouncer's certificate names", () => {
  test.each([
    [
      "a DNS name: the SAN and the CN",
      "pgbouncer.prod.db.internal",
      {
        commonName: "pgbouncer.prod.db.internal",
        dnsNames: ["pgbouncer.prod.db.internal"],
        ipAddresses: [],
      },
    ],
    [
      "an address: an IP SAN",
      "10.40.0.10",
      { commonName: "10.40.0.10", dnsNames: [], ipAddresses: ["10.40.0.10"] },
    ],
    [
      "a name over X.509's 64-character CN: the SAN alone carries it",
      long,
      { commonName: "pg-pooling PgBouncer", dnsNames: [long], ipAddresses: [] },
    ],
  ])("%s", (_, endpoint, names) => {
    expect(serverCertificateNames(planWith(endpoint))).toEqual(names);
  });

  test("the CA says which stack it belongs to", () => {
    expect(fleetCaName("prod")).toBe("pg-pooling prod PgBouncer CA");
  });
});
