import pg from "pg";
import type { ClientEndpoint } from "../platform/dsn.js";
import type { Phase } from "./classify.js";
import { tagUnsent, tagXid, XidStatement } from "./outcome.js";

/**
 * What the library puts on pg's wire beyond a plain query: the phase an error happened in (a
 * failed connect is not a failed statement), the statement sent behind its xid query, and the
 * CancelRequest that stops a statement past its deadline.
 */
const PHASE = Symbol("phase");

export function phaseOf(error: unknown): Phase {
  return (error as { [PHASE]?: Phase } | null)?.[PHASE] ?? "query";
}

export function tag<E>(error: E, phase: Phase): E {
  if (typeof error === "object" && error !== null) (error as { [PHASE]?: Phase })[PHASE] = phase;
  return error;
}

/** The statement sent behind its xid query; a failure carries the xid and what had arrived. */
export function sendWithXid<R extends pg.QueryResultRow>(
  client: pg.PoolClient,
  sql: string,
  params?: unknown[],
): Promise<pg.QueryResult<R>> {
  return new Promise((resolve, reject) => {
    const statement: XidStatement = new XidStatement(sql, params, (err, result) =>
      err
        ? reject(
            statement.unsent
              ? tagUnsent(err)
              : tagXid(
                  err,
                  statement.tx,
                  statement.result ? { value: statement.result } : undefined,
                ),
          )
        : resolve(result as pg.QueryResult<R>),
    );
    client.query(statement as unknown as pg.Submittable);
  });
}

/** The part of pg's wire-protocol Connection a cancel needs (missing from its type definitions). */
interface CancelConnection {
  on(event: "connect" | "error", listener: () => void): void;
  connect(port: number, host: string): void;
  cancel(processID: number, secretKey: number): void;
  stream: { destroy(): void };
}

/**
 * A CancelRequest with the client's key, on a fresh connection, as libpq's PQcancel does: send it
 * and let the server close the socket. Nothing else may follow on that connection: PgBouncer 1.18
 * exits (FATAL "bad client state") when a Terminate message comes after a CancelRequest, which
 * pg's Connection.end() would send.
 */
export function sendCancel(client: pg.PoolClient, endpoint: ClientEndpoint): void {
  const { processID, secretKey } = client as unknown as { processID: number; secretKey: number };
  const connection = new pg.Connection() as unknown as CancelConnection;
  connection.on("error", () => {});
  connection.on("connect", () => connection.cancel(processID, secretKey));
  connection.connect(endpoint.port, endpoint.host);
  setTimeout(() => connection.stream.destroy(), 5000).unref();
}
