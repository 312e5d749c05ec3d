import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import * as pulumi from "@pulumi/pulumi";
import { parse as parseYaml } from "yaml";
import { PROJECT, stackFile } from "../../platform/config.js";

/**
 * Pulumi under mocks: the engine cannot run here, so resources are echoed back with the outputs a
 * provider would add (addresses, ARNs, generated passwords), provider functions answer like AWS,
 * and config comes from the stack file, set the way `pulumi up -s <stack>` sets it: plain text for
 * strings, JSON for maps. Every resource is recorded, with its inputs as the engine received them
 * (secret inputs still wrapped), so tests can check what would be sent to AWS.
 */
export interface MockOptions {
  /** The stack's `pg-pooling:` config. @default the keys of Pulumi.<stack>.yaml */
  raw?: Record<string, unknown>;
  /** What Parameter Store holds before this run (a previous revision). @default nothing */
  parameters?: { name: string; type: "String" | "SecureString"; value: string }[];
}

export interface RecordedResource {
  type: string;
  name: string;
  custom: boolean;
  /** Inputs as received: a secret input is `{[SIG]: SECRET, value}`. */
  inputs: Record<string, unknown>;
  state: Record<string, unknown>;
}

export interface MockedStack {
  resources: RecordedResource[];
  /** Every generated password, by resource name: what must never show in the clear. */
  passwords: Map<string, string>;
  /** The custom resources of a type token, e.g. `aws:rds/instance:Instance`. */
  of(type: string): RecordedResource[];
  /** Wait until the program has registered everything (applies may register late). */
  settle(): Promise<void>;
}

const SIG = "4dabf18193072939515e22adb298388d";
const SECRET = "1b47061264138c4ac30d75fd1eb44270";

export function isSecretInput(value: unknown): value is { value: unknown } {
  return (
    typeof value === "object" &&
    value !== null &&
    (value as Record<string, unknown>)[SIG] === SECRET
  );
}

/** The value inside a secret input, or the input itself. */
export function unwrap(value: unknown): unknown {
  return isSecretInput(value) ? value.value : value;
}

/** Deterministic stand-ins for random resources, so tests can recompute verifiers. */
export function mockPassword(name: string, length = 32): string {
  return createHash("sha256").update(`pw:${name}`).digest("hex").slice(0, length);
}
export function mockBytes(name: string, length = 16): Buffer {
  return createHash("sha256").update(`bytes:${name}`).digest().subarray(0, length);
}

/**
 * A deterministic PEM block standing in for what the TLS provider makes: a key's block says
 * PRIVATE KEY, as a real one does, so the scans for a key in the clear have something to find.
 */
export function mockPem(label: string, name: string): string {
  const body = createHash("sha256").update(`${label}:${name}`).digest("base64");
  return `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n`;
}

export const MOCK_ACCOUNT = "123456789012";
export const MOCK_AZS = ["eu-west-1a", "eu-west-1b", "eu-west-1c"];

function outputs(
  type: string,
  name: string,
  inputs: Record<string, unknown>,
): Record<string, unknown> {
  const kind = type.split(":").pop()!;
  const base = { ...inputs, arn: `arn:aws:mock:eu-west-1:${MOCK_ACCOUNT}:${kind}/${name}` };
  switch (type) {
    case "random:index/randomPassword:RandomPassword":
      return { ...inputs, result: mockPassword(name, Number(inputs.length ?? 32)) };
    case "random:index/randomBytes:RandomBytes": {
      const bytes = mockBytes(name, Number(inputs.length ?? 16));
      return { ...inputs, base64: bytes.toString("base64"), hex: bytes.toString("hex") };
    }
    case "aws:rds/instance:Instance": {
      const address = `${name}.c0ffee.eu-west-1.rds.amazonaws.com`;
      const port = inputs.port ?? 5432;
      return { ...base, identifier: name, address, port, endpoint: `${address}:${port}` };
    }
    case "aws:rds/parameterGroup:ParameterGroup":
      return { ...base, name: `${name}-pg` };
    case "aws:rds/subnetGroup:SubnetGroup":
      return { ...base, name: `${name}-sng` };
    case "aws:lb/loadBalancer:LoadBalancer":
      return {
        ...base,
        dnsName: `${name}-0123.elb.eu-west-1.amazonaws.com`,
        zoneId: "Z2IFOLAFXWLO4F",
      };
    case "aws:ec2/instance:Instance":
      return { ...base, privateIp: inputs.privateIp ?? `10.0.0.${10 + (name.length % 200)}` };
    case "tls:index/privateKey:PrivateKey":
      return {
        ...inputs,
        privateKeyPem: mockPem("EC PRIVATE KEY", name),
        privateKeyPemPkcs8: mockPem("PRIVATE KEY", name),
        publicKeyPem: mockPem("PUBLIC KEY", name),
      };
    case "tls:index/selfSignedCert:SelfSignedCert":
    case "tls:index/locallySignedCert:LocallySignedCert":
      return { ...inputs, certPem: mockPem("CERTIFICATE", name) };
    case "tls:index/certRequest:CertRequest":
      return { ...inputs, certRequestPem: mockPem("CERTIFICATE REQUEST", name) };
    case "aws:ec2/launchTemplate:LaunchTemplate":
      return { ...base, latestVersion: 1 };
    case "aws:route53/zone:Zone":
      return { ...base, zoneId: `Z-${name}` };
    case "aws:route53/record:Record":
      return { ...base, fqdn: inputs.name };
    case "aws:ssm/document:Document":
      return { ...base, name: `${name}-doc` };
    case "aws:ssm/association:Association":
      return { ...base, associationId: `assoc-${name}` };
    case "aws:iam/role:Role":
    case "aws:iam/instanceProfile:InstanceProfile":
      return { ...base, name: `${name}-iam` };
    default:
      return base;
  }
}

function call(token: string, inputs: Record<string, unknown>, options: MockOptions) {
  switch (token) {
    case "aws:index/getAvailabilityZones:getAvailabilityZones":
      return { id: "eu-west-1", names: MOCK_AZS, zoneIds: ["euw1-az1", "euw1-az2", "euw1-az3"] };
    case "aws:ec2/getAmi:getAmi": {
      const filters = inputs.filters as { name: string; values: string[] }[];
      const arch = filters.find((f) => f.name === "architecture")!.values[0];
      return { id: `ami-debian12-${arch}`, architecture: arch, rootDeviceName: "/dev/xvda" };
    }
    case "aws:ssm/getParametersByPath:getParametersByPath": {
      const found = (options.parameters ?? []).filter((p) =>
        p.name.startsWith(`${inputs.path as string}/`),
      );
      return {
        id: inputs.path,
        path: inputs.path,
        names: found.map((p) => p.name),
        types: found.map((p) => p.type),
        values: found.map((p) => p.value),
        arns: found.map((p) => `arn:aws:ssm:eu-west-1:${MOCK_ACCOUNT}:parameter${p.name}`),
      };
    }
    case "aws:index/getPartition:getPartition":
      return { id: "aws", partition: "aws", dnsSuffix: "amazonaws.com" };
    case "aws:index/getCallerIdentity:getCallerIdentity":
      return {
        id: MOCK_ACCOUNT,
        accountId: MOCK_ACCOUNT,
        arn: "arn:aws:iam::mock",
        userId: "mock",
      };
    default:
      throw new Error(`provider function ${token} is not mocked`);
  }
}

export async function mockStack(stack: string, options: MockOptions = {}): Promise<MockedStack> {
  const doc = parseYaml(readFileSync(stackFile(stack), "utf8")) as {
    config: Record<string, unknown>;
  };
  const file = Object.entries(doc.config).filter(([k]) => !k.startsWith(`${PROJECT}:`));
  const ours = options.raw
    ? Object.entries(options.raw).map(([k, v]) => [`${PROJECT}:${k}`, v] as const)
    : Object.entries(doc.config).filter(([k]) => k.startsWith(`${PROJECT}:`));
  pulumi.runtime.setAllConfig(
    Object.fromEntries(
      [...file, ...ours].map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]),
    ),
  );
  const resources: RecordedResource[] = [];
  const passwords = new Map<string, string>();
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        const state = outputs(args.type, args.name, args.inputs);
        resources.push({
          type: args.type,
          name: args.name,
          custom: args.custom ?? true,
          inputs: args.inputs,
          state,
        });
        if (typeof state.result === "string") passwords.set(args.name, state.result);
        return { id: `${args.name}-id`, state };
      },
      call: (args) => call(args.token, args.inputs, options),
    },
    PROJECT,
    stack,
    false,
  );
  const runtime = pulumi.runtime as unknown as { waitForRPCs(): Promise<void> };
  return {
    resources,
    passwords,
    of: (type) => resources.filter((r) => r.custom && r.type === type),
    settle: async () => {
      for (let i = 0; i < 5; i++) {
        await runtime.waitForRPCs();
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
  };
}

/** The value of an Output, for assertions. */
export function valueOf<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => output.apply((v) => resolve(v)));
}
