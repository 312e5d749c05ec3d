import { describe, expect, test } from "vitest";
import { REDACTED, redactRecord, redactSecrets } from "./redact.js";
import { syntheticRunRecord } from "./__fixtures__/run-record.js";

describe("redactSecrets", () => {
  test.each([
    [
      "--dsn postgresql://orders:s3cr%21t@127.0.0.1:56432/orders?sslmode=disable",
      `--dsn postgresql://orders:${REDACTED}@127.0.0.1:56432/orders?sslmode=disable`,
    ],
    [
      "host=db user=orders password=hunter2 dbname=orders",
      `host=db user=orders password=${REDACTED} dbname=orders`,
    ],
    ["password = 'two words'", `password = ${REDACTED}`],
    ["PGPASSWORD=hunter2 npm run loadtest", `PGPASSWORD=${REDACTED} npm run loadtest`],
    // Nothing secret: left alone, including a URI without a password.
    ["postgresql://orders@127.0.0.1/orders", "postgresql://orders@127.0.0.1/orders"],
    ["npm run loadtest -- --clients 2000", "npm run loadtest -- --clients 2000"],
  ])("%s", (text, redacted) => expect(redactSecrets(text)).toBe(redacted));
});

describe("redactRecord", () => {
  test("redacts every free-text field and leaves the input untouched", () => {
    const record = syntheticRunRecord();
    const secret = "postgresql://orders:hunter2@h/orders";
    record.meta.command = `npm run loadtest -- --dsn ${secret}`;
    record.notes.push(`driver used ${secret}`);
    record.errors[0]!.message = `could not connect to ${secret}`;
    record.drill!.description = `kill ${secret}`;
    const redacted = JSON.stringify(redactRecord(record));
    expect(redacted).not.toContain("hunter2");
    expect(redacted.split(REDACTED).length - 1).toBe(4);
    expect(record.meta.command).toContain("hunter2");
  });
});
