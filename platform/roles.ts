/**
 * Postgres roles the platform creates besides one per service. Named here, once, because the
 * components create them, the exporters log in with them and the budget reserves their
 * connections (`database.reservedConnections.exporters`).
 */

/** The exporters' login role, granted pg_monitor: statistics views, none of the services' data. */
export const MONITORING_ROLE = "pooling_monitor";
