import { describe, expect, test } from "vitest";
import {
  ec2Architecture,
  endpointDns,
  hostAddressBlock,
  hostAz,
  hostPrivateIps,
  isVpcCidr,
  parseCidr,
  replicaAz,
  subnetCidrs,
} from "./network.js";

describe("VPC ranges", () => {
  test.each([
    ["10.40.0.0/16", true],
    ["172.16.0.0/20", true],
    ["10.40.0.0/15", false], // larger than AWS allows
    ["10.40.0.0/21", false], // subnets would be smaller than /25
    ["10.40.1.0/16", false], // host bits set
    ["10.400.0.0/16", false],
    ["10.40.0.0", false],
    ["10.40.0.0/16\n", false],
  ])("%j is a usable VPC range: %s", (text, ok) => {
    expect(isVpcCidr(text)).toBe(ok);
  });

  test("a /16 splits into /20s: private from the bottom, public from the middle", () => {
    expect(subnetCidrs("10.40.0.0/16", 3)).toEqual({
      private: ["10.40.0.0/20", "10.40.16.0/20", "10.40.32.0/20"],
      public: ["10.40.128.0/20", "10.40.144.0/20", "10.40.160.0/20"],
    });
    expect(subnetCidrs("172.16.0.0/20", 2).public).toEqual(["172.16.8.0/24", "172.16.9.0/24"]);
  });

  test("subnets never overlap and stay inside the VPC", () => {
    const { private: priv, public: pub } = subnetCidrs("10.40.0.0/16", 6);
    const ranges = [...priv, ...pub].map((c) => parseCidr(c)!);
    const vpc = parseCidr("10.40.0.0/16")!;
    for (const r of ranges) {
      expect(r.base).toBeGreaterThanOrEqual(vpc.base);
      expect(r.base + 2 ** (32 - r.prefix)).toBeLessThanOrEqual(vpc.base + 2 ** 16);
    }
    expect(new Set(ranges.map((r) => r.base)).size).toBe(ranges.length);
  });

  test("a bad range or AZ count names the field", () => {
    expect(() => subnetCidrs("10.40.1.0/16", 2)).toThrow(
      /network\.vpcCidr .* got 10\.40\.1\.0\/16/,
    );
    expect(() => subnetCidrs("10.40.0.0/16", 0)).toThrow(/network\.azs must be 1 to 8, got 0/);
  });
});

describe("placement", () => {
  test("replicas start in the AZ after the primary's and go round", () => {
    expect([0, 1, 2, 3].map((i) => replicaAz(i, 3))).toEqual([1, 2, 0, 1]);
    expect(replicaAz(0, 2)).toBe(1);
  });

  test("hosts fill every AZ before any AZ gets a second", () => {
    expect([0, 1, 2, 3, 4].map((i) => hostAz(i, 3))).toEqual([0, 1, 2, 0, 1]);
  });
});

describe("PgBouncer hosts' fixed addresses", () => {
  test.each([
    ["10.40.0.0/20", "10.40.0.16/28"],
    ["10.40.16.0/20", "10.40.16.16/28"],
    ["172.16.1.0/24", "172.16.1.16/28"],
  ])("the private subnet %s reserves %s for the hosts", (subnet, block) => {
    expect(hostAddressBlock(subnet)).toBe(block);
  });

  test("the block sits past AWS's four reserved addresses and before the broadcast, in every AZ", () => {
    for (const subnet of subnetCidrs("172.16.0.0/20", 6).private) {
      const s = parseCidr(subnet)!;
      const b = parseCidr(hostAddressBlock(subnet))!;
      expect(b.base).toBeGreaterThanOrEqual(s.base + 4);
      expect(b.base + 16).toBeLessThan(s.base + 2 ** (32 - s.prefix) - 1);
    }
  });

  test.each([
    // [vpc, azs, hosts, addresses]
    ["10.40.0.0/16", 3, 3, ["10.40.0.16", "10.40.16.16", "10.40.32.16"]],
    [
      "10.40.0.0/16",
      3,
      5,
      ["10.40.0.16", "10.40.16.16", "10.40.32.16", "10.40.0.17", "10.40.16.17"],
    ],
    ["10.41.0.0/16", 2, 1, ["10.41.0.16"]],
    ["10.41.0.0/16", 2, 3, ["10.41.0.16", "10.41.16.16", "10.41.0.17"]],
    ["172.16.0.0/20", 2, 2, ["172.16.0.16", "172.16.1.16"]],
  ])("%s over %i AZs, %i hosts", (vpcCidr, azs, hosts, addresses) => {
    expect(hostPrivateIps({ vpcCidr, azs }, hosts)).toEqual(addresses);
  });

  test("each host lands in its AZ's private subnet, and no two share an address", () => {
    const network = { vpcCidr: "10.40.0.0/16", azs: 3 };
    const subnets = subnetCidrs(network.vpcCidr, network.azs).private.map((c) => parseCidr(c)!);
    const ips = hostPrivateIps(network, 32);
    expect(new Set(ips).size).toBe(32);
    ips.forEach((ip, i) => {
      const n = ip.split(".").reduce((acc, o) => acc * 256 + Number(o), 0);
      const s = subnets[hostAz(i, network.azs)]!;
      expect(Math.floor(n / 2 ** (32 - s.prefix))).toBe(s.base / 2 ** (32 - s.prefix));
    });
  });

  test.each([
    [
      { vpcCidr: "10.40.0.0/16", azs: 2 },
      33,
      "pgbouncer.hosts must be 1 to 32 with network.azs = 2 (16 fixed addresses per AZ), got 33",
    ],
    [
      { vpcCidr: "10.40.0.0/16", azs: 1 },
      17,
      "pgbouncer.hosts must be 1 to 16 with network.azs = 1 (16 fixed addresses per AZ), got 17",
    ],
    [
      { vpcCidr: "10.40.0.0/16", azs: 3 },
      0,
      "pgbouncer.hosts must be 1 to 48 with network.azs = 3 (16 fixed addresses per AZ), got 0",
    ],
  ])(
    "more hosts than an AZ's block holds is refused, naming the field: %j, %i",
    (network, hosts, message) => {
      expect(() => hostPrivateIps(network, hosts)).toThrow(message);
    },
  );

  test("a subnet too small for the block is refused, naming it", () => {
    expect(() => hostAddressBlock("10.40.0.0/27")).toThrow(/got 10\.40\.0\.0\/27/);
  });
});

describe("EC2 architecture", () => {
  test.each([
    ["c7g.large", "arm64"],
    ["t4g.small", "arm64"],
    ["r6gd.xlarge", "arm64"],
    ["im4gn.large", "arm64"],
    ["x2gd.medium", "arm64"],
    ["a1.large", "arm64"],
    ["c7i.large", "x86_64"],
    ["m5.large", "x86_64"],
    ["g4dn.xlarge", "x86_64"],
    ["g5.xlarge", "x86_64"],
    ["m7i-flex.large", "x86_64"],
  ])("%s → %s", (type, arch) => {
    expect(ec2Architecture(type)).toBe(arch);
  });
});

describe("endpoint DNS", () => {
  test.each([
    ["pgbouncer.prod.db.internal", { zone: "prod.db.internal", record: "pgbouncer" }],
    ["pgbouncer.internal", { zone: "internal", record: "pgbouncer" }],
    ["10.40.0.10", undefined],
    ["pgbouncer", undefined],
  ])("%s", (endpoint, dns) => {
    expect(endpointDns(endpoint)).toEqual(dns);
  });
});
