import { describe, expect, test } from "vitest";
import { DEFAULT_POLICY_CONFIG } from "./rules.js";
import { checkOpenFiles } from "./open-files.js";
import { editFile, prod, rendered, setKey } from "./fixtures.js";

/** Server connections one prod host may open (the plan's), as the messages name them. */
const server = prod.hosts[0]!.maxServerConnections;
const clients = prod.hosts[0]!.maxClientConn;

describe("pooling-open-files", () => {
  test("every rendered copy fits max_client_conn in LimitNOFILE − server connections − margin", () => {
    expect(checkOpenFiles(rendered(), DEFAULT_POLICY_CONFIG)).toEqual([]);
  });

  test("a unit with a lower LimitNOFILE", () => {
    const facts = editFile(rendered(), "pgbouncer-1", "rendered", "pgbouncer.service", (t) =>
      t.replace(/^LimitNOFILE=.*$/m, "LimitNOFILE=512"),
    );
    expect(checkOpenFiles(facts, DEFAULT_POLICY_CONFIG).map((f) => f.message)).toEqual([
      `rendered pgbouncer-1/pgbouncer.ini: max_client_conn must be ≤ ${512 - server - 100} = LimitNOFILE 512 (rendered pgbouncer-1/pgbouncer.service) − ${server} server connections − margin 100, got ${clients}`,
    ]);
  });

  test("max_client_conn raised by hand past the descriptors", () => {
    const facts = editFile(rendered(), "pgbouncer-2", "user-data", "pgbouncer.ini", (t) =>
      setKey(t, "max_client_conn", 1900),
    );
    const limit = prod.hosts[0]!.openFilesLimit;
    expect(checkOpenFiles(facts, DEFAULT_POLICY_CONFIG).map((f) => f.message)).toEqual([
      `rendered pgbouncer-2/user-data.yaml write_files /etc/pgbouncer/pgbouncer.ini: max_client_conn must be ≤ ${limit - server - 100} = LimitNOFILE ${limit} (rendered pgbouncer-2/user-data.yaml write_files /etc/systemd/system/pgbouncer.service) − ${server} server connections − margin 100, got 1900`,
    ]);
  });

  test("a unit without LimitNOFILE leaves systemd's 1024", () => {
    const facts = editFile(rendered(), "pgbouncer-3", "rendered", "pgbouncer.service", (t) =>
      t.replace(/^LimitNOFILE=.*\n/m, ""),
    );
    const config = { ...DEFAULT_POLICY_CONFIG, openFilesMargin: 200 };
    const messages = checkOpenFiles(facts, config).map((f) => f.message);
    // the copies that keep the plan's LimitNOFILE hold even the larger margin; this one does not
    expect(prod.hosts[0]!.openFilesLimit - server - 200).toBeGreaterThanOrEqual(clients);
    expect(messages).toEqual([
      `rendered pgbouncer-3/pgbouncer.ini: max_client_conn must be ≤ ${1024 - server - 200} = LimitNOFILE unset (systemd's 1024) (rendered pgbouncer-3/pgbouncer.service) − ${server} server connections − margin 200, got ${clients}`,
    ]);
  });
});
