import { describe, expect, test } from "vitest";
import { DEFAULT_POLICY_CONFIG } from "./rules.js";
import { checkOpenFiles } from "./open-files.js";
import { editFile, prod, rendered, setKey } from "./fixtures.js";

describe("pooling-open-files", () => {
  test("every rendered copy fits max_client_conn in LimitNOFILE − server connections − margin", () => {
    expect(checkOpenFiles(rendered(), DEFAULT_POLICY_CONFIG)).toEqual([]);
  });

  test("a unit with a lower LimitNOFILE", () => {
    const facts = editFile(rendered(), "pgbouncer-1", "rendered", "pgbouncer.service", (t) =>
      t.replace(/^LimitNOFILE=.*$/m, "LimitNOFILE=512"),
    );
    expect(checkOpenFiles(facts, DEFAULT_POLICY_CONFIG).map((f) => f.message)).toEqual([
      `rendered pgbouncer-1/pgbouncer.ini: max_client_conn must be ≤ 293 = LimitNOFILE 512 (rendered pgbouncer-1/pgbouncer.service) − 119 server connections − margin 100, got ${prod.hosts[0]!.maxClientConn}`,
    ]);
  });

  test("max_client_conn raised by hand past the descriptors", () => {
    const facts = editFile(rendered(), "pgbouncer-2", "user-data", "pgbouncer.ini", (t) =>
      setKey(t, "max_client_conn", 900),
    );
    expect(checkOpenFiles(facts, DEFAULT_POLICY_CONFIG).map((f) => f.message)).toEqual([
      "rendered pgbouncer-2/user-data.yaml write_files /etc/pgbouncer/pgbouncer.ini: max_client_conn must be ≤ 805 = LimitNOFILE 1024 (rendered pgbouncer-2/user-data.yaml write_files /etc/systemd/system/pgbouncer.service) − 119 server connections − margin 100, got 900",
    ]);
  });

  test("a unit without LimitNOFILE leaves systemd's 1024", () => {
    const facts = editFile(rendered(), "pgbouncer-3", "rendered", "pgbouncer.service", (t) =>
      t.replace(/^LimitNOFILE=.*\n/m, ""),
    );
    const config = { ...DEFAULT_POLICY_CONFIG, openFilesMargin: 200 };
    const messages = checkOpenFiles(facts, config).map((f) => f.message);
    // the larger margin fails every copy; the one without the key says so
    expect(messages).toHaveLength(6);
    expect(messages).toContain(
      `rendered pgbouncer-3/pgbouncer.ini: max_client_conn must be ≤ 705 = LimitNOFILE unset (systemd's 1024) (rendered pgbouncer-3/pgbouncer.service) − 119 server connections − margin 200, got ${prod.hosts[0]!.maxClientConn}`,
    );
  });
});
