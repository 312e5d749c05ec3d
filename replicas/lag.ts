/**
 * THE replica lag: one definition, evaluated on the replica itself, read by the client library's
 * router (resilience/router.ts), by postgres_exporter (monitoring/postgres-queries.ts) and through
 * that metric by the alert and the dashboards. Seconds since the replica last replayed a
 * transaction, except when it provably has nothing to replay:
 *
 * - a node not in recovery (a promoted replica) is current: 0;
 * - a replica that has replayed everything it received AND has a WAL receiver running is current
 *   however old its last replayed transaction is: an idle primary is not lag;
 * - otherwise now() − pg_last_xact_replay_timestamp(), which grows without bound while replay is
 *   paused, stuck or cut off from the primary (no sample window caps it); no replayed transaction
 *   yet is +Infinity, so a replica that cannot vouch for itself is never "fresh".
 *
 * Why this and not WAL positions sampled on the primary over time: it needs one query on one node
 * (the exporter scrapes each node alone), it has no window that caps what it can measure, and it
 * is what RDS itself reports as ReplicaLag. Receive ≤ replay, not =, because a restarted replica's
 * receiver starts at the segment boundary before its replay position. No privilege is needed: a
 * plain role sees pg_stat_wal_receiver's pid (the other columns need pg_read_all_stats).
 */
export const REPLICA_LAG_EXPRESSION =
  "CASE WHEN NOT pg_is_in_recovery() THEN 0 " +
  "WHEN pg_last_wal_receive_lsn() <= pg_last_wal_replay_lsn() " +
  "AND EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE pid IS NOT NULL) THEN 0 " +
  "ELSE COALESCE(GREATEST(0, EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())), " +
  "'Infinity') END";

/** The column the expression is read as, in the router's probe and in the exporter's query. */
export const LAG_COLUMN = "lag_seconds";

/**
 * What the probe's text ends with: pg_stat_statements keeps a trailing comment (not a leading
 * one), so the probes can be counted apart from the service's own statements
 * (monitoring/postgres-queries.ts), and npm run tune leaves them out of what the service did.
 */
export const LAG_PROBE_MARKER = "/* pg-pooling lag probe */";

/** The router's probe: the lag as text, so +Infinity survives the trip through pg's parser. */
export const LAG_PROBE_SQL = `SELECT (${REPLICA_LAG_EXPRESSION})::text AS ${LAG_COLUMN} ${LAG_PROBE_MARKER}`;

/** "0", "12.5", "Infinity" → seconds; anything else is a bug in the query, named. */
export function parseLagSeconds(text: unknown): number {
  const value = typeof text === "string" ? Number(text) : NaN;
  if (!(value >= 0))
    throw new Error(`replica lag must be a number ≥ 0, got ${JSON.stringify(text)}`);
  return value;
}

/**
 * Probes kept per replica: the router judges a replica by the smaller of its last two, so one
 * probe that lands between a WAL record's arrival and its replay (the last commit may be old)
 * does not take a current replica out, while a replica that is really behind is behind in both.
 */
export const LAG_PROBES_JUDGED = 2;

/** What the router needs to know about probing, with why each value is what it is. */
export const LAG_PROBE = {
  /** How often each replica is probed. */
  intervalMs: 250,
  /**
   * A probe that has not answered in this long failed: a replica whose backend hangs (a stopped
   * process, a dead peer before keepalives notice) must not freeze its last, fresh-looking lag.
   */
  timeoutMs: 1_000,
  /** Failed probes in a row before the replica is ineligible: one is a replica restarting. */
  failuresBeforeIneligible: 3,
} as const;
