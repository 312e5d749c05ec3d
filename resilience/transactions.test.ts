import { expect, test } from "vitest";
import { NotCommittedError } from "./errors.js";
import { stoppedBeforeCommit } from "./transactions.js";

/** A server error as pg gives it: the message and the SQLSTATE. */
const pg = (code: string, message: string) => Object.assign(new Error(message), { code });

test("a transaction a stopping server ended before COMMIT is a goodbye: its retry is free", () => {
  const stopped = pg("57P01", "terminating connection due to administrator command");
  expect(stoppedBeforeCommit(new NotCommittedError("admin-shutdown before COMMIT", stopped))).toBe(
    true,
  );
});

test("a crash, a cut connection, or the stop's error outside a known-uncommitted transaction is not", () => {
  const crashed = pg("57P02", "terminating connection because of crash of another server process");
  expect(stoppedBeforeCommit(new NotCommittedError("crash-shutdown before COMMIT", crashed))).toBe(
    false,
  );
  const cut = Object.assign(new Error("Connection terminated unexpectedly"), {});
  expect(stoppedBeforeCommit(new NotCommittedError("network-lost before COMMIT", cut))).toBe(false);
  // during COMMIT or an autocommit statement the outcome is for pg_xact_status, not a free retry
  expect(
    stoppedBeforeCommit(pg("57P01", "terminating connection due to administrator command")),
  ).toBe(false);
});
