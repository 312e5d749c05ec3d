import pg from "pg";

/**
 * The parts of pg's Query and wire Connection that the library's own statements drive (untyped in
 * @types/pg): the xid statement (outcome.ts) and a statement sent behind others in one write.
 */
export interface WireConnection {
  parse(m: { text: string; name?: string; types?: unknown[] }): void;
  bind(m: { portal: string; statement?: string; values?: unknown[] }): void;
  describe(m: { type: "P"; name: string }): void;
  execute(m: { portal: string; rows?: number }): void;
  flush(): void;
  sync(): void;
  stream: { cork(): void; uncork(): void };
}

export interface QueryInternals {
  _results: pg.QueryResult | pg.QueryResult[];
  _result: pg.QueryResult & { command: string | null };
}

export const BaseQuery = pg.Query as unknown as new (
  config: { text: string; values: unknown[]; queryMode: "extended" },
  values: undefined,
  callback: (err: Error | null, result: unknown) => void,
) => QueryInternals & {
  prepare(c: WireConnection): void;
  _getRows(c: WireConnection, rows?: number): void;
  handleCommandComplete(msg: unknown, c: WireConnection): void;
  handleError(err: Error, c: WireConnection): void;
};

/**
 * A statement with parameters sent behind `prefix` (statements without any, such as BEGIN) in one
 * write and one Sync, as pgjdbc sends BEGIN with a transaction's first statement. The server runs
 * them in order and, when one fails, skips the rest up to the Sync: nothing behind a failed BEGIN
 * runs outside the transaction. The callback receives every result, the prefix's first.
 */
class BehindStatement extends BaseQuery {
  constructor(
    private readonly prefix: readonly string[],
    text: string,
    values: unknown[],
    callback: (err: Error | null, results?: pg.QueryResult[]) => void,
  ) {
    super({ text, values, queryMode: "extended" }, undefined, (err, results) =>
      err ? callback(err) : callback(null, results as pg.QueryResult[]),
    );
  }

  override prepare(connection: WireConnection): void {
    // pg corks the stream around prepare(): all of it leaves in one write
    for (const text of this.prefix) {
      connection.parse({ text });
      connection.bind({ portal: "" });
      connection.describe({ type: "P", name: "" });
      connection.execute({ portal: "" });
    }
    super.prepare(connection);
  }
}

/**
 * `sql` sent behind `prefix` in one round trip; resolves to the results of the prefix, then
 * those of `sql`. Without parameters the whole goes as one simple-protocol query (which allows a
 * `sql` of several statements, as pg's own query does); with them, as extended-protocol messages
 * before one Sync.
 */
export function sendBehind(
  client: pg.PoolClient,
  prefix: readonly string[],
  sql: string,
  params?: unknown[],
): Promise<pg.QueryResult[]> {
  return new Promise((resolve, reject) => {
    if (params?.length)
      client.query(
        new BehindStatement(prefix, sql, params, (err, results) =>
          err ? reject(err) : resolve(results!),
        ) as unknown as pg.Submittable,
      );
    else
      client.query([...prefix, sql].join("; "), (err: Error | null, results: unknown) =>
        err ? reject(err) : resolve(results as pg.QueryResult[]),
      );
  });
}
