import { describe, expect, test } from "vitest";
import { checkClientCapacity } from "./client-capacity.js";
import { dev, editFile, prod, rendered, setKey } from "./fixtures.js";

describe("pooling-client-capacity", () => {
  test.each([prod, dev])(
    "$environment: each host's max_client_conn holds every service's share",
    (plan) => {
      expect(checkClientCapacity(rendered(plan), plan)).toEqual([]);
    },
  );

  // 2,440 connections over 2 hosts: 1,220 each on average, up to 1,301 on one (Bin(2440, 1/2))
  test("max_client_conn lowered by hand: the message lists each service's app pool × instances share", () => {
    const facts = editFile(rendered(), "pgbouncer-3", "user-data", "pgbouncer.ini", (t) =>
      setKey(t, "max_client_conn", 500),
    );
    expect(checkClientCapacity(facts, prod).map((f) => f.message)).toEqual([
      "rendered pgbouncer-3/user-data.yaml write_files /etc/pgbouncer/pgbouncer.ini: max_client_conn must be ≥ 1321 (app pool × instances of every service over 2 of 3 hosts, the busiest holding up to 1301 of all 2440 (the binomial bound, exceeded in ≤ 0.1 % of spreads), + 20 for admin and exporters: accounts 15×6/2=45, catalog 61×15/2=458, identity 43×15/2=323, notifications 7×6/2=21, orders 33×12/2=198, payments 28×9/2=126, reporting 25×4/2=50), got 500",
    ]);
  });

  test("a single host (dev) carries every client itself", () => {
    const facts = editFile(rendered(dev), "pgbouncer-1", "rendered", "pgbouncer.ini", (t) =>
      t.replace(/^max_client_conn = .*\n/m, ""),
    );
    expect(checkClientCapacity(facts, dev).map((f) => f.message)).toEqual([
      "rendered pgbouncer-1/pgbouncer.ini: max_client_conn must be ≥ 225 (app pool × instances of every service over 1 of 1 hosts, + 20 for admin and exporters: accounts 4×2/1=8, catalog 16×4/1=64, identity 12×4/1=48, notifications 3×2/1=6, orders 14×3/1=42, payments 15×2/1=30, reporting 7×1/1=7), got nothing (PgBouncer's 100)",
    ]);
  });
});
