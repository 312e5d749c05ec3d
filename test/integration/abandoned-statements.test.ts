import { expect, test } from "vitest";
import { connect, endpointTarget } from "../../local/connect.js";
import { waitFor } from "../../local/daemons.js";
import { superuserQuery } from "../../local/postgres-server.js";
import { clusterNodes } from "../../local/postgres-nodes.js";
import { clusterOptions } from "../../local/cluster.js";
import { DEFAULTS } from "../../platform/defaults.js";
import { plan, secrets } from "./helpers.js";

/**
 * A statement whose client is gone stops on the server: client_connection_check_interval
 * (DEFAULTS.clientConnectionCheckMs) on every node, as in the cloud's parameter group. Without it
 * the backend runs its statement to the end, holding its locks, for nobody.
 */
const [primary] = clusterNodes(clusterOptions(plan, secrets.replicationPassword));

const running = async (marker: string) =>
  Number(
    await superuserQuery(
      primary!,
      `SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%${marker}%' AND pid <> pg_backend_pid()`,
    ),
  );

test("every node checks that a running statement's client is still there", async () => {
  for (const node of clusterNodes(clusterOptions(plan, secrets.replicationPassword)))
    expect(await superuserQuery(node, "SHOW client_connection_check_interval")).toBe(
      `${DEFAULTS.clientConnectionCheckMs / 1000}s`,
    );
});

test("a 60 s statement whose client vanished through PgBouncer stops within seconds", async () => {
  const marker = `abandoned_${Date.now()}`;
  const client = await connect(endpointTarget(plan, secrets, "orders", "orders"));
  const sleeping = client.query(`SELECT pg_sleep(60) AS ${marker}`).catch(() => "cut");
  await waitFor("the statement on the primary", async () => (await running(marker)) === 1, 5000);
  // the client goes away without a word (a crashed app): PgBouncer closes the server connection
  (
    client as unknown as { connection: { stream: { destroy(): void } } }
  ).connection.stream.destroy();
  const cutAt = performance.now();
  await waitFor(
    "the backend to stop its statement",
    async () => (await running(marker)) === 0,
    DEFAULTS.clientConnectionCheckMs + 5000,
    100,
  );
  expect(performance.now() - cutAt).toBeLessThan(DEFAULTS.clientConnectionCheckMs + 5000);
  expect(await sleeping).toBe("cut");
});
