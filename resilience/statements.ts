import type pg from "pg";
import type { ClientEndpoint } from "../platform/dsn.js";
import { QueryTimeoutError } from "./errors.js";
import { sendBehind } from "./pg-query.js";
import { sendCancel, sendWithXid, tag } from "./wire.js";

/** Runs one statement with a timeout; used inside an attempt. */
export type StatementRunner = <R extends pg.QueryResultRow = pg.QueryResultRow>(
  sql: string,
  params?: unknown[],
) => Promise<pg.QueryResult<R>>;

/** The runners an attempt gets: statements, and a statement that commits with a known xid. */
export interface Runners {
  run: StatementRunner;
  /** One autocommit statement whose transaction id is learnt first (resilience/outcome.ts). */
  runWithXid: StatementRunner;
  /** A statement sent behind `prefix` in one round trip; every result, the prefix's first. */
  runBehind: (
    prefix: readonly string[],
    sql: string,
    params?: unknown[],
  ) => Promise<pg.QueryResult[]>;
}

/** How long a cancelled statement may take to stop before its connection is dropped. */
const CANCEL_GRACE_MS = 1000;

/** What is kept per pooled connection (see Statements.clients). */
interface ClientState {
  flight: Flight;
  runners: Runners;
}

/** A statement's deadline (Infinity: none in flight) and whether the sweeper cancelled it. */
interface Flight {
  deadline: number;
  timedOut: boolean;
}

/**
 * The statements a target's connections run, each with a timeout that cancels it on the server
 * (through PgBouncer) when it expires, and the sweep that checks those deadlines.
 */
export class Statements {
  /**
   * Per pooled connection, made once when it opens: its statement's deadline (Infinity when none
   * runs) and the runners an attempt on it gets. Nothing is allocated per statement.
   */
  private readonly clients = new Map<pg.PoolClient, ClientState>();
  /** Statements queued behind another on the same connection (a caller's Promise.all): rare. */
  private readonly queuedFlights = new Map<Flight, pg.PoolClient>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    /** The target's name in errors: service/target. */
    private readonly label: string,
    private readonly endpoint: ClientEndpoint,
    private readonly timeoutMs: number,
  ) {
    this.sweeper = setInterval(() => this.sweep(), Math.min(100, Math.max(10, timeoutMs / 5)));
    this.sweeper.unref();
  }

  /**
   * A statement with a timeout that cancels it on the server (through PgBouncer) when it expires.
   * One sweep timer per target checks the deadlines of statements in flight: a timer per
   * statement costs more than the statement itself on a fast path.
   */
  statement<R extends pg.QueryResultRow, T = pg.QueryResult<R>>(
    client: pg.PoolClient,
    sql: string,
    params?: unknown[],
    timeoutMs = this.timeoutMs,
    send?: () => Promise<T>,
  ): Promise<T> {
    // The connection's own flight, unless a statement is already in flight on it (pg queues a
    // second one behind it): that one gets a flight of its own, so each keeps its deadline.
    const own = this.stateOf(client).flight;
    const flight = own.deadline === Infinity ? own : { deadline: 0, timedOut: false };
    if (flight !== own) this.queuedFlights.set(flight, client);
    flight.deadline = performance.now() + timeoutMs;
    flight.timedOut = false;
    if (send) {
      return send().then(
        (result) => {
          this.landed(flight, own);
          return result;
        },
        (e: unknown) => {
          throw this.failed(flight, own, timeoutMs, e);
        },
      );
    }
    // pg's callback form: one promise per statement (its promise form adds another).
    return new Promise((resolve, reject) =>
      client.query<R>(sql, params as unknown[], (err, result) => {
        if (err) return reject(this.failed(flight, own, timeoutMs, err));
        this.landed(flight, own);
        resolve(result as T);
      }),
    );
  }

  /** The statement's answer came: nothing of it is in flight any more. */
  private landed(flight: Flight, own: Flight): void {
    flight.deadline = Infinity;
    if (flight !== own) this.queuedFlights.delete(flight);
  }

  /** The error a failed statement gives its caller: its timeout when the sweeper cancelled it. */
  private failed(flight: Flight, own: Flight, timeoutMs: number, e: unknown): unknown {
    this.landed(flight, own);
    return flight.timedOut ? new QueryTimeoutError(this.label, timeoutMs, e) : tag(e, "query");
  }

  /** A connection's state, made on first use if the pool's connect event has not run yet. */
  stateOf(client: pg.PoolClient): ClientState {
    let state = this.clients.get(client);
    if (!state) this.clients.set(client, (state = this.clientState(client)));
    return state;
  }

  /** A connection the pool opened: its state is made now, once. */
  add(client: pg.PoolClient): void {
    this.clients.set(client, this.clientState(client));
  }

  /** A connection the pool closed. */
  remove(client: pg.PoolClient): void {
    this.clients.delete(client);
  }

  private clientState(client: pg.PoolClient): ClientState {
    return {
      flight: { deadline: Infinity, timedOut: false },
      runners: {
        run: (sql, params) => this.statement(client, sql, params),
        runWithXid: (sql, params) =>
          this.statement(client, sql, params, undefined, () => sendWithXid(client, sql, params)),
        runBehind: (prefix, sql, params) =>
          this.statement(client, sql, params, undefined, () =>
            sendBehind(client, prefix, sql, params),
          ),
      },
    };
  }

  private sweep(): void {
    const now = performance.now();
    for (const [client, { flight }] of this.clients) this.check(client, flight, now);
    for (const [flight, client] of this.queuedFlights) this.check(client, flight, now);
  }

  /** A statement past its deadline is cancelled; one still running a grace later, cut. */
  private check(client: pg.PoolClient, flight: Flight, now: number): void {
    if (!flight.timedOut && flight.deadline <= now) {
      flight.timedOut = true;
      sendCancel(client, this.endpoint);
    } else if (flight.timedOut && flight.deadline + CANCEL_GRACE_MS <= now) {
      // The cancel did not land: PgBouncer (1.18, 1.24) may send it to the other host of a
      // multi-host entry. Drop the connection; PgBouncer then closes the server connection,
      // which ends the query, and the caller gets its timeout now.
      (
        client as unknown as { connection: { stream: { destroy(): void } } }
      ).connection.stream.destroy();
      flight.deadline = Infinity;
    }
  }

  stop(): void {
    clearInterval(this.sweeper);
  }
}
