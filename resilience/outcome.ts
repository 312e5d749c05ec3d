import type pg from "pg";
import { BaseQuery, type QueryInternals, type WireConnection } from "./pg-query.js";

/**
 * Outcome-unknown writes, resolved. When a connection dies while a write or its COMMIT is in
 * flight, the outcome is unknown to the caller, but the library knows the write's transaction id
 * (pg_current_xact_id(), read inside the transaction before the work) and, on a new connection
 * to the primary, asks pg_xact_status(): committed → the call succeeded; aborted → it never
 * happened and may run again; anything else → still unknown.
 *
 * A single statement gets its xid in one more round trip, not two: `SELECT pg_current_xact_id()`
 * and the statement go as two Executes before one Sync, which the server runs as one implicit
 * transaction committed at the Sync. The statement is sent only once the xid has arrived (a Flush
 * makes the server send it), so a connection cut before that carried nothing that could commit;
 * a Flush before the Sync makes the server send the statement's result before it commits, so a
 * cut after the commit leaves the library holding the result too.
 */
/**
 * The primary's timeline (the first 8 hex digits of its current WAL file's name), read with the
 * xid: a failover starts a new timeline, and the promoted node may hand the same xid number to
 * another transaction, so an xid is only asked about on the timeline it was assigned on.
 */
const TIMELINE = "substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)";
export const XID_SQL = `SELECT pg_current_xact_id()::text AS xid, ${TIMELINE} AS timeline`;

/** Which transaction: its id, and the timeline of the primary that assigned it. */
export interface TxRef {
  xid: string;
  timeline: string;
}

/** What pg_xact_status() said, or why it could not say. */
export type Outcome = "committed" | "not-committed" | "unknown";

const XID = Symbol("xid");
const UNSENT = Symbol("unsent");
const PARTIAL = Symbol("partial");

interface Tagged {
  [XID]?: TxRef;
  [UNSENT]?: boolean;
  [PARTIAL]?: { value: unknown };
}

/** The transaction the failed work had, if it learnt which before the failure. */
export function txOf(error: unknown): TxRef | undefined {
  return (error as Tagged | null)?.[XID];
}

/** The failed work never sent anything that could commit (its statement waited for the xid). */
export function wasUnsent(error: unknown): boolean {
  return (error as Tagged | null)?.[UNSENT] === true;
}

/** Marks a failure that happened before the statement was sent. */
export function tagUnsent<E>(error: E): E {
  if (typeof error === "object" && error !== null) (error as Tagged)[UNSENT] = true;
  return error;
}

/** The work's own result, when it was complete before the connection died (boxed: may be undefined). */
export function partialResultOf(error: unknown): { value: unknown } | undefined {
  return (error as Tagged | null)?.[PARTIAL];
}

/** Marks a failure with the xid of its transaction and, when the work had finished, its result. */
export function tagXid<E>(error: E, tx: TxRef | undefined, partial?: { value: unknown }): E {
  if (typeof error === "object" && error !== null && tx) {
    (error as Tagged)[XID] = tx;
    if (partial) (error as Tagged)[PARTIAL] = partial;
  }
  return error;
}

/**
 * `SELECT pg_current_xact_id()` then the caller's statement, in one implicit transaction and one
 * round trip. The callback receives the statement's own result; `xid` and `result` are readable
 * while the query is in flight, so a failure can be tagged with what arrived.
 */
export class XidStatement extends BaseQuery {
  constructor(
    text: string,
    values: unknown[] | undefined,
    callback: (err: Error | null, result?: pg.QueryResult) => void,
  ) {
    // Extended protocol even without parameters: the simple protocol would skip prepare().
    super({ text, values: values ?? [], queryMode: "extended" }, undefined, (err, results) =>
      err ? callback(err) : callback(null, (results as pg.QueryResult[])[1]),
    );
  }

  get tx(): TxRef | undefined {
    const results = this._results;
    const first = Array.isArray(results) ? results[0] : results;
    const row = first?.rows[0] as Partial<TxRef> | undefined;
    return row?.xid && row.timeline ? { xid: row.xid, timeline: row.timeline } : undefined;
  }

  /** The statement's result once its CommandComplete arrived. */
  get result(): pg.QueryResult | undefined {
    const results = this._results;
    return Array.isArray(results) && (results[1] as QueryInternals["_result"]).command
      ? results[1]
      : undefined;
  }

  override prepare(connection: WireConnection): void {
    connection.parse({ text: XID_SQL });
    connection.bind({ portal: "" });
    connection.describe({ type: "P", name: "" });
    connection.execute({ portal: "" });
    connection.flush();
    this.sendStatement = () => {
      // The statement and the Sync that commits it go only once the xid is here: a connection
      // cut before then carried nothing that could commit. One write for all of it, as pg's own
      // submit does: uncorked, each message is a TLS record and a system call of its own.
      connection.stream.cork();
      try {
        super.prepare(connection);
      } finally {
        connection.stream.uncork();
      }
    };
  }

  /**
   * pg's last step of prepare(): Execute, then Sync. A Flush between them makes the server send
   * the statement's result before it commits, so a cut after the commit leaves the result here.
   */
  override _getRows(connection: WireConnection, rows?: number): void {
    connection.execute({ portal: "", rows });
    connection.flush();
    connection.sync();
  }

  private sendStatement?: () => void;

  override handleCommandComplete(msg: unknown, connection: WireConnection): void {
    super.handleCommandComplete(msg, connection);
    const send = this.sendStatement;
    this.sendStatement = undefined;
    send?.();
  }

  /** The error came before the statement was sent: nothing of it can have committed. */
  unsent = false;

  override handleError(err: Error, connection: WireConnection): void {
    if (this.sendStatement) {
      // An error before the xid arrived (a bad parameter): the Sync closes the open transaction.
      this.sendStatement = undefined;
      this.unsent = true;
      try {
        connection.sync();
      } catch {
        // the connection is gone: nothing to close
      }
    }
    super.handleError(err, connection);
  }
}

export interface OutcomeCheck {
  /** Runs the status query on the primary, on a fresh connection. */
  query: (
    sql: string,
    params: unknown[],
  ) => Promise<pg.QueryResult<{ status: string | null; timeline: string }>>;
  /** How long to keep asking while the primary is unreachable or the xid is still in progress. */
  deadlineMs: number;
  sleep?: (ms: number) => Promise<void>;
}

const POLL_MS = 100;
/** pg_xact_status() on an xid the node never assigned: "transaction ID … is in the future". */
const IN_THE_FUTURE = "22023";

/**
 * Asks the primary what became of `xid`. "in progress" means the old backend has not noticed its
 * client is gone yet (PgBouncer closes the server connection, and the backend then rolls back or
 * finishes its commit): ask again. An xid the primary never assigned (a failover to a replica that
 * had not received it), one asked on another timeline (a failover happened: the promoted node may
 * have given the number to a transaction of its own) or one too old to know is unknown, not
 * "not committed" and not "committed".
 */
export async function resolveOutcome(tx: TxRef, check: OutcomeCheck): Promise<Outcome> {
  const sleep = check.sleep ?? ((ms) => new Promise<void>((r) => setTimeout(r, ms)));
  const end = performance.now() + check.deadlineMs;
  for (;;) {
    try {
      const r = await check.query(
        `SELECT pg_xact_status($1::xid8) AS status, ${TIMELINE} AS timeline`,
        [tx.xid],
      );
      // Another timeline: a failover since; the number may name someone else's transaction.
      if (r.rows[0]?.timeline !== tx.timeline) return "unknown";
      const status = r.rows[0]?.status;
      if (status === "committed") return "committed";
      if (status === "aborted") return "not-committed";
      if (status !== "in progress") return "unknown";
    } catch (e) {
      if ((e as { code?: string }).code === IN_THE_FUTURE) return "unknown";
      // The primary is away (restarting, failing over): ask again until the deadline.
    }
    if (performance.now() + POLL_MS > end) return "unknown";
    await sleep(POLL_MS);
  }
}
