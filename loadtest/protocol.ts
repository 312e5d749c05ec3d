import type { InstanceSpec } from "./fleet.js";
import type { AckedWrite } from "./workloads.js";

/** Messages between the harness and its worker threads (structured-clone plain data only). */

export interface WorkerInit {
  runId: string;
  worker: number;
  instances: InstanceSpec[];
  /** Service → password, from the local stack's secrets. Never logged or reported. */
  passwords: Record<string, string>;
  /** Open every pool connection before the measured phase starts. */
  warm: boolean;
  /** No think time and reads only: the harness's own ceiling. */
  saturate: boolean;
  /** Where this worker serves its instances' resilience metrics, if anywhere. */
  metricsPort?: { address: string; port: number };
}

export type ToWorker = { kind: "go"; startedAt: number } | { kind: "stop" };

/** One service's calls finished during a tick. */
export interface ServiceTick {
  /** Latencies in ms of the calls that succeeded. */
  latencies: number[];
  reads: number;
  writes: number;
  errors: number;
}

export interface CallError {
  service: string;
  code: string;
  message: string;
  /** ms since the run started, when the call failed. */
  at: number;
  /** ms since the run started, when the call began (a timeout fails seconds after its cause). */
  calledAt: number;
}

export type FromWorker =
  | { kind: "ready"; worker: number; clients: number; setupMs: number }
  | {
      kind: "tick";
      worker: number;
      services: Record<string, ServiceTick>;
      /** Completion times (ms since start) of every successful call: recovery is read off them. */
      completions: number[];
      /** Completion times of the successful reads alone: a drill checks reads never stopped. */
      readCompletions: number[];
      /** The latency (ms) of each of those calls, in the same order. */
      completionLatencies: number[];
      errors: CallError[];
      /** Pool connections open across the worker's instances now. */
      connections: number;
      /** Connections closed under the worker's instances so far, not by them. */
      connectionsLost: number;
      /** Callers waiting for a pool connection inside the app (the bulkhead queue). */
      appWaiting: number;
      heapMiB: number;
    }
  | { kind: "done"; worker: number; acked: AckedWrite[]; notificationsReceived: number }
  | { kind: "failed"; worker: number; error: string };
