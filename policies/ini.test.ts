import { describe, expect, test } from "vitest";
import {
  effectiveEntries,
  limitNofile,
  parseConnstring,
  parseIni,
  parseUserlist,
  setting,
} from "./ini.js";

describe("reading PgBouncer's files", () => {
  const ini = parseIni(
    [
      "; comment",
      "[databases]",
      "orders = host=a,b port=5432 dbname='my db' pool_mode=session pool_size=7 reserve_pool=2",
      "bare = host=a",
      "",
      "[pgbouncer]",
      "pool_mode = transaction",
      "default_pool_size = 3",
      "max_db_connections = 9",
      "%include /etc/other.ini",
    ].join("\n"),
  );

  test("sections, keys, connection strings (quoted values), unparsed lines", () => {
    expect(ini.databases.orders).toEqual({
      host: "a,b",
      port: "5432",
      dbname: "my db",
      pool_mode: "session",
      pool_size: "7",
      reserve_pool: "2",
    });
    expect(ini.pgbouncer.default_pool_size).toBe("3");
    expect(ini.unparsed).toEqual(["%include /etc/other.ini"]);
    expect(parseConnstring("dbname='it''s'")).toEqual({ dbname: "it's" });
  });

  test("entries as PgBouncer runs them: entry, else [pgbouncer], else PgBouncer's defaults", () => {
    expect(effectiveEntries(ini)).toEqual([
      {
        name: "bare",
        hosts: ["a"],
        poolMode: "transaction",
        poolSize: 3,
        reservePoolSize: 0,
        maxDbConnections: 9,
      },
      {
        name: "orders",
        hosts: ["a", "b"],
        poolMode: "session",
        poolSize: 7,
        reservePoolSize: 2,
        maxDbConnections: 9,
      },
    ]);
    expect(effectiveEntries(parseIni("[databases]\nx = host=h\n"))[0]).toMatchObject({
      poolMode: "session",
      poolSize: 20,
      maxDbConnections: 0,
    });
    expect(setting(ini, "auth_type")).toBe("md5");
  });

  test("LimitNOFILE of [Service] only; soft limit of soft:hard", () => {
    expect(limitNofile("[Unit]\nLimitNOFILE=1\n[Service]\nLimitNOFILE=2048:4096\n")).toBe(2048);
    expect(limitNofile("[Service]\nType=notify\n")).toBeUndefined();
  });

  test("userlist lines with their numbers", () => {
    expect(parseUserlist('; header\n"a" "x"\n"b""c" "y"\n')).toEqual([
      { line: 2, user: "a", secret: "x" },
      { line: 3, user: 'b"c', secret: "y" },
    ]);
  });
});
