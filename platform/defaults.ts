/**
 * Every default of the platform domain, in one place. Where README.md or docs/ quote one,
 * test/unit/docs-numbers.test.ts checks that they agree, so a default is never written twice.
 */
export const DEFAULTS = {
  /** Little's law gives the average busy server connections; peaks are burstier than averages. */
  headroom: 1.5,
  /** No pool shrinks below this many server connections per host, however light its load. */
  minPoolSize: 2,
  /** Fraction of the steady per-host share kept open (min_pool_size) so bursts skip a connect. */
  warmFraction: 0.5,
  /**
   * A session entry's pool per PgBouncer process holds all but this share of the ways a load
   * balancer (and so_reuseport across a host's processes) can spread its clients: each client
   * pins a server connection, so a process that gets more than its average must still hold them.
   */
  sessionSpreadTail: 0.001,
  /** reserve_pool_size as a fraction of pool_size, by service priority. */
  reserveFraction: { critical: 0.25, high: 0.2, normal: 0.1, low: 0 },
  /**
   * Logins per PgBouncer process and entry a role's CONNECTION LIMIT allows beyond the entry's
   * max_db_connections: a server connection PgBouncer closes (server_lifetime, server_idle_timeout,
   * RECONNECT) still counts until its backend has exited, and the login that replaces it may come
   * first; refused with 53300, PgBouncer locks the pool out for server_login_retry. Cancel requests
   * need none: the postmaster answers them without a backend logging in as the role.
   */
  roleLoginOverlapPerEntry: 1,
  /** Client connections each PgBouncer host keeps for admin consoles, exporters and operators. */
  adminClientConnections: 20,
  /** Open files a PgBouncer process needs beyond its sockets: listeners, log, auth file, DNS. */
  openFilesSlack: 100,
  /** RDS's default: max_connections = LEAST(DBInstanceClassMemory / 9531392, 5000). */
  rdsBytesPerConnection: 9_531_392,
  rdsMaxConnectionsCap: 5000,
  superuserReservedConnections: 3,
  /**
   * Postgres client_connection_check_interval: a running statement whose client is gone
   * (PgBouncer closed the server connection, its host died) stops within this many ms instead of
   * running to its end, holding locks and a backend nobody waits for.
   */
  clientConnectionCheckMs: 2_000,
  /**
   * Every node loads pg_stat_statements (shared_preload_libraries), and the extension lives in this
   * database on the primary (replicas get it by streaming): npm run tune reads the query patterns
   * of every service database from it, as the monitoring role (pg_monitor reads all statements),
   * and postgres_exporter connects to it, whose lag-probe query reads the same view.
   */
  statementStats: { library: "pg_stat_statements", database: "postgres" },
  /** PgBouncer keys whose values are the same for every environment. */
  pgbouncer: {
    /** One process per host until the peak needs more than one core (platform/cpu.ts). */
    processesPerHost: 1,
    /** Where a host keeps its certificate, key and CA bundle when client TLS is on. */
    certDir: "/etc/pgbouncer/tls",
    /**
     * Statements one PgBouncer process serves per second of its own CPU, one core (it is one
     * thread). Measured by `npm run bench -- pgbouncer-cpu`: the production line (PgBouncer
     * 1.26.1, TLS on both hops), the root's pgbench, simple protocol, a 20-row catalog read
     * through a transaction-mode entry, CPU from /proc of the processes over the run. Lowest of
     * five runs at 400 clients: 18,832 autocommit reads per CPU-second (20–24k at 20–100 clients);
     * BEGIN, 2 reads, COMMIT: 5,836 transactions (23,300 statements) per CPU-second, so a
     * statement costs about the same alone or inside a transaction, and the autocommit figure is
     * the lower one per statement.
     */
    statementsPerCoreSecond: 18_800,
    /**
     * The share of its core a process may use at peak with one host lost. The rest is for what
     * the peak rate leaves out: logins (0.8–1.0 CPU-ms each with TLS and SCRAM, measured by the
     * same bench; 1,500 clients reconnecting after a host loss cost 1.3 CPU-seconds), the
     * exporter's SHOW queries, and a host core slower than the one measured.
     */
    peakCoreShare: 0.5,
    maxPreparedStatements: 200,
    reservePoolTimeoutSeconds: 3,
    serverCheckDelaySeconds: 30,
    statsPeriodSeconds: 60,
    /** systemd waits this long for the safe shutdown (SIGINT) before it kills the process. */
    stopTimeoutSeconds: 120,
    /**
     * dns_max_ttl: how long PgBouncer trusts a node's resolved address. RDS endpoint records have
     * a 5 s TTL, and a failover moves the name: PgBouncer must look again as soon as it expires.
     */
    dnsMaxTtlSeconds: 5,
    /**
     * Dead-peer detection on every client and server socket: an idle connection to a vanished
     * node is probed after 5 s and dropped after 3 unanswered probes 1 s apart; a connection
     * whose sent data goes unacknowledged for 10 s is dropped (tcp_user_timeout, which also
     * bounds the keepalive). Without them a connection to a node that is gone waits for the
     * kernel's defaults: 2 hours idle, or about 15 minutes of retransmissions.
     */
    tcpKeepIdleSeconds: 5,
    tcpKeepIntervalSeconds: 1,
    tcpKeepCount: 3,
    tcpUserTimeoutMs: 10_000,
    /**
     * query_wait_timeout of each ro entry (from 1.26, where the key exists per database): a read
     * that waits this long for a server on one replica is answered "query_wait_timeout" (nothing
     * ran; retry-safe) and the library reads from another replica or the primary. PgBouncer does
     * not turn away clients already queued when its connects to a dead replica are refused; this
     * bounds their wait below the client's statement timeout, so they fail over instead of timing
     * out. 2 s is far above a healthy entry's queueing (Little's law sizing keeps it in ms).
     */
    replicaQueryWaitSeconds: 2,
  },
  timeouts: {
    queryWaitSeconds: 15,
    clientIdleSeconds: 0,
    clientLoginSeconds: 30,
    idleTransactionSeconds: 60,
    querySeconds: 0,
    serverIdleSeconds: 600,
    serverLifetimeSeconds: 3600,
    serverConnectSeconds: 5,
    /**
     * After a failed server login PgBouncer turns a pool's new transactions away until a login
     * succeeds, and tries again after this long: a restarted or promoted primary is reached at
     * most 0.5 s after it accepts connections. An attempt costs the node one refused connect, at
     * most twice a second per pool. (PgBouncer takes fractions: the key is in microseconds.)
     */
    serverLoginRetrySeconds: 0.5,
  },
  /** npm run tune: when an observed value overturns a declaration (platform/tuning.ts). */
  tuning: {
    /** A declaration stands while the observation is within this of it (relative; readShare absolute). */
    tolerance: { peakTps: 0.15, transactionMs: 0.25, readShare: 0.1 },
    /** The rate a peak is read over: short bursts are the pools' headroom, not the declaration. */
    rateWindowSeconds: 60,
    /** Fewer samples than this per series over the window is too little data to tune from. */
    minSamples: 10,
    /** The window observed when --window is not given: a week holds the weekly peak. */
    window: "7d",
  },
  /** Cloud shape of dev and prod (ignored by the local stack, which runs on this machine). */
  cloud: {
    /** RDS subnet groups need subnets in two AZs; two is also the least that survives an AZ. */
    azs: 2,
    /** One NAT gateway: hosts only reach out for packages and SSM, so one is enough for dev. */
    natGateways: 1,
    storageGb: 50,
    maxStorageGb: 200,
    /** Read replicas need automated backups on the primary (retention ≥ 1). */
    backupRetentionDays: 7,
    /** Burstable Graviton: enough for a dev fleet; prod picks a compute type. */
    pgbouncerInstanceType: "t4g.small",
    /** Off unless the stack asks: dev is torn down freely, prod's file turns all three on. */
    multiAz: false,
    deletionProtection: false,
    finalSnapshot: false,
  },
  /** A service's declaration, where it may leave a field out. */
  service: {
    /** An autocommit statement is one: the CPU sizing counts statements per transaction. */
    statementsPerTransaction: 1,
  },
  monitoring: {
    /** How often Prometheus scrapes the exporters and evaluates the rules. */
    scrapeIntervalSeconds: 15,
    /** How long a condition holds before its alert fires: minutes in the cloud ride out blips. */
    alertForSeconds: 120,
    /** kube-prometheus-stack's usual names: its namespace, Grafana's sidecar label, its release. */
    namespace: "monitoring",
    dashboardLabel: "grafana_dashboard",
    selectorLabels: { release: "kube-prometheus-stack" },
  },
  client: {
    /** The app gives up connecting before PgBouncer's query_wait_timeout would answer for it. */
    connectTimeoutShareOfQueryWait: 0.5,
    /** App-side idle connections are closed well before PgBouncer's client_idle_timeout. */
    idleTimeoutMs: 30_000,
    /**
     * The statement timeout: PgBouncer's query_wait_timeout (a wait for a server connection ends
     * there first, retry-safe) plus what the statement may run once it has one, this many times
     * the service's typical transaction and never under statementRunMinMs. Shorter, every slow
     * wait in the pooler became an outcome-unknown timeout in the app instead.
     */
    statementRunPerTransaction: 10,
    statementRunMinMs: 1_000,
    retryMaxAttempts: 3,
    /**
     * Where a service finds the fleet CA's certificate, to verify PgBouncer with (the stack output
     * `pgbouncerCaCertificate`, mounted by the service's deployment). The local stack passes its own.
     */
    caFile: "/etc/pg-pooling/pgbouncer-ca.crt",
  },
} as const;

export type Priority = keyof typeof DEFAULTS.reserveFraction;
