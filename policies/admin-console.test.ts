import { describe, expect, test } from "vitest";
import { checkAdminConsole } from "./admin-console.js";
import { editFile, rendered, setKey } from "./fixtures.js";
import { admittingRule, parseHba } from "./hba.js";

const HBA = "rendered pgbouncer-1/pgbouncer_hba.conf";
const messages = (facts: Parameters<typeof checkAdminConsole>[0]) =>
  checkAdminConsole(facts).map((f) => f.message);
const editHba = (edit: (t: string) => string) =>
  editFile(rendered(), "pgbouncer-1", "rendered", "pgbouncer_hba.conf", edit);

describe("pooling-admin-console-local", () => {
  test("the rendered files keep the console on the unix socket", () => {
    expect(checkAdminConsole(rendered())).toEqual([]);
  });

  test("a catch-all SCRAM rule above the rejects lets both users in over TCP, TLS or not", () => {
    const facts = editHba((t) =>
      t.replace(/^local pgbouncer/m, "host all all 0.0.0.0/0 scram-sha-256\nlocal pgbouncer"),
    );
    const got = "got line 4 (host all all 0.0.0.0/0 scram-sha-256)";
    expect(messages(facts)).toEqual(
      ["pgbouncer_admin", "pgbouncer_stats"].flatMap((user) =>
        ["TLS", "no TLS"].map(
          (tls) =>
            `${HBA}: ${user} over TCP (IPv4, ${tls}) to the admin console must be refused (the load balancer reaches TCP), ${got}`,
        ),
      ),
    );
  });

  test("without the IPv6 rejects, the services' hostssl rule admits the console over IPv6 TLS", () => {
    const facts = editHba((t) => t.replace(/^host .* ::\/0 reject\n/gm, ""));
    expect(messages(facts)).toEqual(
      ["pgbouncer_admin", "pgbouncer_stats"].map(
        (user) =>
          `${HBA}: ${user} over TCP (IPv6, TLS) to the admin console must be refused (the load balancer reaches TCP), got line 9 (hostssl all all ::/0 scram-sha-256)`,
      ),
    );
  });

  test("a reject of one subnet leaves the other addresses to the rules below it", () => {
    const rules = parseHba(
      "host pgbouncer all 10.0.0.0/8 reject\nhost pgbouncer all 0.0.0.0 0.0.0.0 scram-sha-256\n",
    );
    const login = { family: 4, tls: true, database: "pgbouncer", user: "ops" } as const;
    expect(rules[1]!.bits).toBe(0);
    expect(admittingRule(rules, login)?.line).toBe(2);
    expect(admittingRule(rules.slice(0, 1), login)).toBeUndefined();
  });

  test("a name added to stats_users is held to the same rules", () => {
    const ini = (t: string) => setKey(t, "stats_users", "pgbouncer_stats, grafana");
    const hba = (t: string) =>
      t.replace(/^local pgbouncer .*$/m, "$&\nhostssl pgbouncer grafana 0.0.0.0/0 scram-sha-256");
    const facts = editFile(
      editFile(rendered(), "pgbouncer-1", "rendered", "pgbouncer.ini", ini),
      "pgbouncer-1",
      "rendered",
      "pgbouncer_hba.conf",
      hba,
    );
    expect(messages(facts)).toEqual([
      `${HBA}: grafana over TCP (IPv4, TLS) to the admin console must be refused (the load balancer reaches TCP), got line 5 (hostssl pgbouncer grafana 0.0.0.0/0 scram-sha-256)`,
    ]);
  });

  test("auth_type other than hba: no rules to keep the console off TCP", () => {
    const facts = editFile(rendered(), "pgbouncer-2", "rendered", "pgbouncer.ini", (t) =>
      setKey(t, "auth_type", "scram-sha-256"),
    );
    expect(messages(facts)).toEqual([
      "rendered pgbouncer-2/pgbouncer.ini: auth_type must be hba (the rules that keep the admin console off the load balancer's listener), got scram-sha-256",
    ]);
  });
});
