/** The library the services import: `createDatabase(profile, { password })`. No Pulumi here. */
export {
  createDatabase,
  type Database,
  type DatabaseHealth,
  type Isolation,
  type ReadOptions,
  type TransactionOptions,
  type WriteOptions,
} from "./database.js";
export { classifyError, isRetryable, type Classification, type ErrorClass } from "./classify.js";
export {
  CommittedResultLostError,
  DatabaseCallError,
  NotCommittedError,
  isCommittedResultLostError,
  isNotCommittedError,
  PoolExhaustedError,
  QueryTimeoutError,
  isBrokenCircuitError,
  isBulkheadRejectedError,
  isDatabaseCallError,
  isPoolExhaustedError,
  isQueryTimeoutError,
  isTlsError,
  TlsError,
} from "./errors.js";
export { METRIC_NAMES } from "./metrics.js";
export { tlsOptions, type ResilienceOptions } from "./options.js";
export type { ResilienceEvents } from "./events.js";
