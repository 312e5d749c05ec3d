import {
  bulkhead,
  CircuitState,
  isBulkheadRejectedError,
  type BulkheadPolicy,
  type CircuitBreakerPolicy,
} from "cockatiel";
import pg from "pg";
import type { Gauge } from "prom-client";
import type { ClientEndpoint } from "../platform/dsn.js";
import { targetBreaker } from "./breaker.js";
import { classifyError, isTlsFailure } from "./classify.js";
import { PoolExhaustedError, QueryTimeoutError, TlsError } from "./errors.js";
import type { TypedEvents } from "./events.js";
import { BREAKER_STATE_VALUE, type HotCount, type Metrics } from "./metrics.js";
import type { ResolvedOptions } from "./options.js";
import { Statements, type Runners } from "./statements.js";
import { phaseOf, tag } from "./wire.js";

/**
 * The smallest default bulkhead queue: a pool of one to three must still hold the callers that
 * arrive while its connections are made again (when a PgBouncer process restarts, hundreds of
 * clients log in through TLS and SCRAM at once, which takes up to a second), about a second of a
 * busy instance's calls. 16 overflowed once in four rolling restarts (catalog's rw pool of 3).
 */
const MIN_QUEUE = 64;

/**
 * A PgBouncer process that is stopping turns calls away before they reach a server: the target is
 * fine (its peers and the other hosts take the next connection), so these open no breaker.
 */
export const GOODBYES: ReadonlySet<string> = new Set([
  "pooler-server-shutting-down",
  "pooler-shutting-down",
]);

/** What an attempt runs on its connection. */
export type Work<T> = (runners: Runners, client: pg.PoolClient, target: Target) => Promise<T>;

const BREAKER_STATES = {
  [CircuitState.Closed]: "closed",
  [CircuitState.Open]: "open",
  [CircuitState.HalfOpen]: "half-open",
  [CircuitState.Isolated]: "open",
} as const;

/**
 * One endpoint the service talks to (the rw entry, or an ro entry) with its own pg pool, a bulkhead
 * sized to that pool, a circuit breaker, and statement timeouts that cancel on the server.
 * Order per attempt: bulkhead (load shedding never trips the breaker) → breaker → connection.
 */
export class Target {
  readonly pool: pg.Pool;
  readonly breaker: CircuitBreakerPolicy;
  readonly bulkhead: BulkheadPolicy;
  private readonly queueSize: number;
  private lastQueued = 0;
  private lostConnections = 0;
  private readonly counters: {
    ok: HotCount;
    reads: HotCount;
    queued: ReturnType<Gauge["labels"]>;
  };
  /** Its connections' statements, with their timeouts. */
  private readonly statements: Statements;

  constructor(
    readonly name: string,
    readonly endpoint: ClientEndpoint,
    private readonly options: ResolvedOptions,
    private readonly service: string,
    private readonly metrics: Metrics,
    events: TypedEvents,
  ) {
    this.pool = new pg.Pool({
      host: endpoint.host,
      port: endpoint.port,
      database: endpoint.database,
      user: endpoint.user,
      password: options.password,
      max: endpoint.poolMax,
      connectionTimeoutMillis: options.connectTimeoutMs,
      idleTimeoutMillis: options.idleTimeoutMs,
      application_name: service,
      ssl: options.tls.ssl,
    });
    // An idle client whose server went away emits here; the pool drops it. Not the caller's error.
    this.pool.on("error", () => {});
    // A connection closed under the library (by PgBouncer, the server or the network, not by its
    // own end()) emits "error" on its client, checked out or idle: counted, never uncaught; the
    // next statement on it fails anyway.
    this.pool.on("connect", (client) => {
      client.on("error", () => void this.lostConnections++);
      this.statements.add(client);
    });
    this.pool.on("remove", (client) => this.statements.remove(client));
    this.queueSize = options.queuePerTarget ?? Math.max(endpoint.poolMax * 4, MIN_QUEUE);
    this.bulkhead = bulkhead(endpoint.poolMax, this.queueSize);
    this.breaker = targetBreaker(options, (e) => this.tripsBreaker(e));
    const labels = { service, target: name };
    this.counters = {
      ok: metrics.attempts.hot({ ...labels, outcome: "ok" }),
      reads: metrics.reads.hot(labels),
      queued: metrics.bulkheadQueued.labels(labels),
    };
    this.statements = new Statements(`${service}/${name}`, endpoint, options.statementTimeoutMs);
    metrics.breakerState.set(labels, 0);
    // Series that exist at 0 before anything happens: a dashboard shows "none yet", not "no data".
    metrics.bulkheadRejections.inc(labels, 0);
    this.counters.queued.set(0);
    this.breaker.onStateChange((state) => {
      const named = BREAKER_STATES[state];
      metrics.breakerState.set(labels, BREAKER_STATE_VALUE[named]);
      events.emit("breaker", { target: name, state: named });
    });
  }

  /**
   * A target that cannot be reached trips the breaker: refused or failed connects, PgBouncer
   * refusing logins. Slow queries and bad SQL do not, and neither does an established connection
   * cut mid-statement: behind a load balancer that is one host going away, and the retry's new
   * connection reaches another (if it cannot, that connect failure counts).
   */
  private tripsBreaker(error: unknown): boolean {
    if (error instanceof QueryTimeoutError) return false;
    const c = classifyError(error, phaseOf(error));
    return c.class === "retry-safe" && !GOODBYES.has(c.reason) && c.reason !== "read-only-server";
  }

  /**
   * How long until the open breaker lets probes through (0 when it is not open): a call it turned
   * away retries then, on the breaker's own clock. A fixed wait from each refusal would land up to
   * one half-open period after the probes, and a target that came back would be found that late.
   */
  get msUntilHalfOpen(): number {
    if (this.breaker.state !== CircuitState.Open) return 0;
    // cockatiel's own record of the opening (its serialised state), on its clock (Date.now())
    const { openedAt } = (this.breaker.toJSON() as { ownState: { openedAt: number } }).ownState;
    return Math.max(0, openedAt + this.options.halfOpenAfterMs - Date.now());
  }

  get available(): boolean {
    return this.breaker.state !== CircuitState.Open && this.breaker.state !== CircuitState.Isolated;
  }

  /**
   * The pool's connections right now: open (idle included), idle, callers waiting for one, the
   * calls (the library's own probes included) holding a bulkhead slot, and how many connections
   * so far were closed under the library rather than by it (an idle timeout is not one).
   */
  get connections(): {
    open: number;
    idle: number;
    waiting: number;
    inBulkhead: number;
    lost: number;
  } {
    return {
      open: this.pool.totalCount,
      idle: this.pool.idleCount,
      waiting: this.pool.waitingCount,
      inBulkhead: this.endpoint.poolMax - this.bulkhead.executionSlots,
      lost: this.lostConnections,
    };
  }

  get breakerState(): "closed" | "open" | "half-open" {
    return BREAKER_STATES[this.breaker.state];
  }

  /**
   * One attempt: a connection from this target's pool, held for `work`, released after. `work`
   * is told the target too, so a call passes one function for every attempt, not a closure each.
   */
  attempt<T>(work: Work<T>): Promise<T> {
    const queued = this.queueSize - this.bulkhead.queueSlots;
    if (queued !== this.lastQueued) this.counters.queued.set((this.lastQueued = queued));
    return this.bulkhead
      .execute(() => this.breaker.execute(() => this.onConnection(work)))
      .catch((e: unknown) => {
        if (isBulkheadRejectedError(e)) {
          this.metrics.bulkheadRejections.inc({ service: this.service, target: this.name });
          throw new PoolExhaustedError(
            `${this.service}/${this.name}`,
            this.endpoint.poolMax,
            this.queueSize,
            e,
          );
        }
        throw e;
      });
  }

  /** `work` on a pooled connection; one it may have left unusable is dropped, not returned. */
  private async onConnection<T>(work: Work<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (e) {
      const error = isTlsFailure(e) ? new TlsError(this.name, this.options.tls.caFile, e) : e;
      throw tag(error, "connect");
    }
    let broken: Error | undefined;
    try {
      const { runners } = this.statements.stateOf(client);
      return await work(runners, client, this);
    } catch (e) {
      if (phaseOf(e) === "connect" || classifyError(e, "query").class !== "permanent") {
        broken = e as Error; // the connection may be unusable: do not return it to the pool
      }
      throw e;
    } finally {
      client.release(broken);
    }
  }

  /**
   * A query of the library's own (the router's lag probe). It takes its connection through the
   * bulkhead like any call, so it never takes one the callers were promised, and it has its own
   * timeout, so a hung replica fails the probe instead of freezing its last answer. Not through
   * the breaker: the router judges probes itself, and a probe is not a caller's failure.
   */
  probe<R extends pg.QueryResultRow>(sql: string, timeoutMs: number): Promise<pg.QueryResult<R>> {
    return this.bulkhead.execute(async () => {
      const client = await this.pool.connect();
      let broken: Error | undefined;
      try {
        return await this.statements.statement<R>(client, sql, undefined, timeoutMs);
      } catch (e) {
        broken = e as Error;
        throw e;
      } finally {
        client.release(broken);
      }
    });
  }

  /** Metrics of the hot path, label sets bound once. */
  recordAttempt(outcome: string): void {
    if (outcome === "ok") this.counters.ok.inc();
    else this.metrics.attempts.inc({ service: this.service, target: this.name, outcome });
  }

  recordRead(): void {
    this.counters.reads.inc();
  }

  /** Opens the whole pool now (connections that fail are left closed); returns how many opened. */
  async warm(): Promise<number> {
    const clients = await Promise.allSettled(
      Array.from({ length: this.endpoint.poolMax }, () => this.pool.connect()),
    );
    let opened = 0;
    for (const c of clients) {
      if (c.status === "fulfilled") {
        c.value.release();
        opened++;
      }
    }
    return opened;
  }

  close(): Promise<void> {
    this.statements.stop();
    return this.pool.end();
  }
}
