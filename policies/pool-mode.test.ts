import { describe, expect, test } from "vitest";
import { checkPoolMode } from "./pool-mode.js";
import { dev, editFile, prod, rendered, setEntryParam, setKey } from "./fixtures.js";

const INI = "rendered pgbouncer-1/pgbouncer.ini";
const edit = (change: (t: string) => string) =>
  checkPoolMode(editFile(rendered(), "pgbouncer-1", "rendered", "pgbouncer.ini", change), prod).map(
    (f) => f.message,
  );

describe("pooling-pool-mode", () => {
  test.each([prod, dev])(
    "every rendered entry of $environment has the mode its service needs",
    (plan) => {
      expect(checkPoolMode(rendered(plan), plan)).toEqual([]);
    },
  );

  test("LISTEN/NOTIFY behind transaction pooling", () => {
    expect(edit((t) => setEntryParam(t, "notifications", "pool_mode", "transaction"))).toEqual([
      `${INI}: databases.notifications pool_mode must be session for notifications (LISTEN/NOTIFY needs the listening connection to stay with the client), got transaction`,
    ]);
  });

  test("session pooling for a service that declares no session state", () => {
    expect(edit((t) => setEntryParam(t, "orders", "pool_mode", "session"))).toEqual([
      `${INI}: databases.orders pool_mode must be transaction for orders (no session state declared; session pooling holds a server connection per client, which the budget does not count), got session`,
    ]);
  });

  test("prepared statements untracked (max_prepared_statements 0): accounts needs session", () => {
    const why = "protocol-level prepared statements live in the server session";
    expect(edit((t) => setKey(t, "max_prepared_statements", 0))).toEqual([
      `${INI}: databases.accounts pool_mode must be session for accounts (${why}), got transaction`,
      `${INI}: databases.accounts_ro_replica1 pool_mode must be session for accounts (${why}), got transaction`,
      `${INI}: databases.accounts_ro_replica2 pool_mode must be session for accounts (${why}), got transaction`,
    ]);
  });

  test("an entry without pool_mode takes [pgbouncer] pool_mode", () => {
    const t = (text: string) =>
      setKey(text.replace(/^(reporting = .*?) pool_mode=session/m, "$1"), "pool_mode", "statement");
    expect(edit(t)).toEqual([
      `${INI}: databases.reporting pool_mode must be session for reporting (temporary tables live in the server session), got statement`,
    ]);
  });

  test("a replica's entry pinned to session for temp tables, which a hot standby refuses", () => {
    const t = (text: string) =>
      text.replace(/^(reporting_ro_replica2 = .*?) pool_mode=transaction/m, "$1 pool_mode=session");
    expect(edit(t)).toEqual([
      `${INI}: databases.reporting_ro_replica2 pool_mode must be transaction for reporting (no session state declared; tempTables runs on the primary only (a hot standby refuses CREATE TEMP TABLE); session pooling holds a server connection per client, which the budget does not count), got session`,
    ]);
  });

  test("an entry no service declares, and a missing one", () => {
    expect(
      edit((t) =>
        t.replace(/^orders_ro_replica1 = .*\n/m, "").replace("[pgbouncer]", "[pgbouncer]\n"),
      ),
    ).toEqual([
      `${INI}: databases.orders_ro_replica1 is missing, so the ro clients of orders cannot reach replica1`,
    ]);
    expect(
      edit((t) =>
        t.replace(
          "[databases]\n",
          "[databases]\nscratch = host=prod-primary.rds-endpoint.invalid dbname=orders pool_mode=session\n",
        ),
      ),
    ).toEqual([
      `${INI}: databases.scratch must be an entry of a service in the stack config (its session needs are declared nowhere), got pool_mode session`,
    ]);
  });
});
