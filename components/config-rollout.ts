import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { Plan } from "../platform/plan.js";
import { applyDocument, hostParameterPath, stackParameterRoot } from "../pgbouncer/agent.js";
import { hostFileTargets } from "../pgbouncer/delivered-files.js";
import {
  fleetRollout,
  parseFleetRollout,
  type FileSet,
  type FleetRollout,
} from "../pgbouncer/rollout.js";
import { SECRET_FILES } from "../pgbouncer/secret-files.js";
import { CLOUD_DEFAULTS } from "./defaults.js";
import type { Parent } from "./steps.js";

/** Delivery of config revisions to running PgBouncer hosts. */
export interface ConfigRolloutArgs {
  /**
   * The plan: its hosts get one parameter per file the apply script installs (agent.ts
   * hostFileTargets, the TLS pair included with client TLS). @default none: required
   */
  plan: Plan;
  /** Stack name: the Parameter Store root is `/pg-pooling/<stack>`. @default none: required */
  stack: string;
  /**
   * Every host's readable files by host, then file name: everything but SECRET_FILES, so no
   * secret in them. @default none: required
   */
  files: pulumi.Output<Record<string, Record<string, string>>>;
  /**
   * The secret files, the same on every host: `userlist.txt`, and `pgbouncer.key` with client
   * TLS. Stored as SecureString. @default none: required
   */
  secretFiles: Record<string, pulumi.Output<string>>;
  /**
   * The instances, in plan order: the association runs on them one at a time. May resolve after
   * the instances are declared, which wait for their parameters (parametersByHost).
   * @default none: required
   */
  instanceIds: pulumi.Input<pulumi.Input<string>[]>;
  /** What must exist before a host runs the document (its instance role's policy). @default [] */
  readyAfter?: pulumi.Resource[];
  /** Tags on every resource. @default {} */
  tags?: Record<string, string>;
}

/**
 * Stores each host's files in Parameter Store (readable ones as String, so `pulumi preview`
 * shows an ini diff; the userlist and the TLS key as SecureString) and runs the apply document on
 * the hosts through a State Manager association, one host at a time and stopping at the first
 * failure. Which action it runs, none / reload / rolling-restart, is decided by
 * pgbouncer/rollout.ts from the files the hosts run now (read back from Parameter Store) and the
 * new ones.
 */
export class ConfigRollout extends pulumi.ComponentResource {
  /** The decision for this revision: action, reasons, revision (no secret in it). */
  public readonly rollout: pulumi.Output<FleetRollout>;
  /** Every parameter's ARN: the hosts' instance role may read these. */
  public readonly parameterArns: pulumi.Output<string>[];
  /**
   * Each host's parameters: its first boot reads the userlist and the TLS pair from them (they
   * are never in user-data), so it waits for them.
   */
  public readonly parametersByHost: Record<string, aws.ssm.Parameter[]>;
  /** `aws ssm start-associations-once --association-ids <id>` re-runs a failed rollout. */
  public readonly associationId: pulumi.Output<string>;

  constructor(name: string, args: ConfigRolloutArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pooling:pgbouncer:ConfigRollout", name, {}, opts);
    const parent = { parent: this };
    const root = stackParameterRoot(args.stack);
    const recordName = `${root}/rollout`;

    const names = Object.keys(hostFileTargets(args.plan));
    const secretNames = names.filter((n) => SECRET_FILES.includes(n));
    this.rollout = rolloutDecision(args, { root, recordName, secretNames, parent });
    this.parametersByHost = hostParameters(name, args, { names, secretNames, parent });
    const parameters = Object.values(this.parametersByHost).flat();
    const record = new aws.ssm.Parameter(
      `${name}-record`,
      {
        name: recordName,
        description: "pg-pooling: the rollout decided for the revision the hosts were given",
        type: "String",
        insecureValue: this.rollout.apply((r) => JSON.stringify(r)),
        tags: args.tags,
      },
      parent,
    );
    const association = applyAssociation(name, args, {
      rollout: this.rollout,
      dependsOn: [...parameters, record, ...(args.readyAfter ?? [])],
      parent,
    });

    this.parameterArns = [...parameters, record].map((p) => p.arn);
    this.associationId = association.associationId;
    this.registerOutputs({ rollout: this.rollout, associationId: this.associationId });
  }
}

/**
 * The decision for this revision: what the hosts were last given, read back from Parameter Store
 * before this run writes anything, against the files they get now (the secret ones included, so
 * a rotation counts). No resource; fails when a secret file the hosts need is not given.
 */
function rolloutDecision(
  args: ConfigRolloutArgs,
  inputs: { root: string; recordName: string; secretNames: string[]; parent: Parent },
): pulumi.Output<FleetRollout> {
  const { root, recordName, secretNames } = inputs;
  // What the hosts were last given: read before this run writes anything.
  const stored = aws.ssm.getParametersByPathOutput(
    { path: root, recursive: true, withDecryption: false },
    inputs.parent,
  );
  for (const n of secretNames) {
    if (!args.secretFiles[n]) throw new Error(`secretFiles must hold ${n}, got none`);
  }
  const secrets = pulumi.all(Object.fromEntries(secretNames.map((n) => [n, args.secretFiles[n]!])));
  const decision = pulumi.all([stored, args.files, secrets]).apply(([s, files, secretValues]) => {
    const next = Object.fromEntries(
      Object.entries(files).map(([host, f]) => [host, { ...f, ...secretValues }]),
    );
    return fleetRollout(
      { files: previousFiles(root, s), rollout: parseRecord(s, recordName) },
      next,
    );
  });
  // Secret only by descent: the reasons name keys and files, never a value from the userlist or
  // the key, and the revision is a SHA-256 over the files. The association needs them in the
  // clear.
  return pulumi.unsecret(decision);
}

/**
 * One parameter per host and file, in plan order: the readable files as String (so `pulumi
 * preview` shows the diff), the secret ones as SecureString.
 */
function hostParameters(
  name: string,
  args: ConfigRolloutArgs,
  inputs: { names: string[]; secretNames: string[]; parent: Parent },
): Record<string, aws.ssm.Parameter[]> {
  const { names, secretNames, parent } = inputs;
  const byHost: Record<string, aws.ssm.Parameter[]> = {};
  for (const host of args.plan.hosts.map((h) => h.name)) {
    byHost[host] = names.map(
      (file) =>
        new aws.ssm.Parameter(
          `${name}-${host}-${file}`,
          {
            name: `${hostParameterPath(args.stack, host)}/${file}`,
            description: `pg-pooling ${file} of ${host}`,
            // An ini over 4 KiB needs the advanced tier; intelligent tiering picks it then.
            tier: "Intelligent-Tiering",
            ...(secretNames.includes(file)
              ? { type: "SecureString", value: pulumi.secret(args.secretFiles[file]!) }
              : {
                  type: "String",
                  insecureValue: args.files.apply((f) => {
                    const text = f[host]?.[file];
                    if (text === undefined) throw new Error(`files.${host} must hold ${file}`);
                    return text;
                  }),
                }),
            tags: args.tags,
          },
          parent,
        ),
    );
  }
  return byHost;
}

/**
 * The apply document and the State Manager association that runs it with this revision's action
 * on the hosts, one at a time, stopping at the first failure; it waits for everything it reads.
 */
function applyAssociation(
  name: string,
  args: ConfigRolloutArgs,
  inputs: { rollout: pulumi.Output<FleetRollout>; dependsOn: pulumi.Resource[]; parent: Parent },
): aws.ssm.Association {
  const { rollout, parent } = inputs;
  const document = new aws.ssm.Document(
    `${name}-apply`,
    {
      documentType: "Command",
      documentFormat: "JSON",
      targetType: "/AWS::EC2::Instance",
      content: JSON.stringify(applyDocument(args.plan), null, 2),
      tags: args.tags,
    },
    parent,
  );
  return new aws.ssm.Association(
    `${name}-apply`,
    {
      name: document.name,
      targets: [{ key: "InstanceIds", values: args.instanceIds }],
      parameters: { action: rollout.action, revision: rollout.revision },
      // One host at a time, and stop at the first failure: the others keep serving.
      maxConcurrency: "1",
      maxErrors: "0",
      complianceSeverity: "HIGH",
      // A restart makes `pulumi up` wait for the whole roll, and fail if a host fails.
      waitForSuccessTimeoutSeconds: rollout.apply((r) =>
        r.action === "rolling-restart"
          ? args.plan.hosts.length * CLOUD_DEFAULTS.rolloutSecondsPerHost
          : undefined,
      ),
      tags: args.tags,
    },
    { parent: parent.parent, dependsOn: inputs.dependsOn },
  );
}

type Stored = aws.ssm.GetParametersByPathResult;

/** `/pg-pooling/<stack>/<host>/<file>` String parameters → files per host. */
function previousFiles(root: string, stored: Stored): Record<string, FileSet> {
  const files: Record<string, Record<string, string>> = {};
  stored.names.forEach((name, i) => {
    const m = new RegExp(`^${root}/([^/]+)/([^/]+)$`).exec(name);
    if (!m || stored.types[i] !== "String") return; // encrypted files are not comparable
    (files[m[1]!] ??= {})[m[2]!] = stored.values[i]!;
  });
  return files;
}

function parseRecord(stored: Stored, recordName: string): FleetRollout | undefined {
  const i = stored.names.indexOf(recordName);
  return i < 0 ? undefined : parseFleetRollout(stored.values[i]);
}
