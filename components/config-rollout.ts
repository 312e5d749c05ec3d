import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import {
  applyDocument,
  DELIVERED_FILES,
  hostParameterPath,
  stackParameterRoot,
  type DeliveredFileName,
  type PublicFiles,
} from "../pgbouncer/agent.js";
import {
  fleetRollout,
  parseFleetRollout,
  type FileSet,
  type FleetRollout,
} from "../pgbouncer/rollout.js";
import { CLOUD_DEFAULTS } from "./defaults.js";

/** Delivery of config revisions to running PgBouncer hosts. */
export interface ConfigRolloutArgs {
  /** Stack name: the Parameter Store root is `/pg-pooling/<stack>`. @default none: required */
  stack: string;
  /** Host names, in plan order: one set of parameters per host. @default none: required */
  hosts: string[];
  /** Every host's files but the userlist, from the renderers: no secret in them. @default none: required */
  files: pulumi.Output<Record<string, PublicFiles>>;
  /** userlist.txt (secret), the same on every host. @default none: required */
  userlist: pulumi.Output<string>;
  /** The instances, in `hosts` order: the association runs on them one at a time. @default none: required */
  instanceIds: pulumi.Input<string>[];
  /** What must exist before a host runs the document (its instance role's policy). @default [] */
  readyAfter?: pulumi.Resource[];
  /** Tags on every resource. @default {} */
  tags?: Record<string, string>;
}

/**
 * Stores each host's files in Parameter Store (readable ones as String, so `pulumi preview`
 * shows an ini diff; the userlist as SecureString) and runs the apply document on the hosts
 * through a State Manager association, one host at a time and stopping at the first failure.
 * Which action it runs, none / reload / rolling-restart, is decided by pgbouncer/rollout.ts from
 * the files the hosts run now (read back from Parameter Store) and the new ones.
 */
export class ConfigRollout extends pulumi.ComponentResource {
  /** The decision for this revision: action, reasons, revision (no secret in it). */
  public readonly rollout: pulumi.Output<FleetRollout>;
  /** Every parameter's ARN: the hosts' instance role may read these. */
  public readonly parameterArns: pulumi.Output<string>[];
  /** `aws ssm start-associations-once --association-ids <id>` re-runs a failed rollout. */
  public readonly associationId: pulumi.Output<string>;

  constructor(name: string, args: ConfigRolloutArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pooling:pgbouncer:ConfigRollout", name, {}, opts);
    const parent = { parent: this };
    const root = stackParameterRoot(args.stack);
    const recordName = `${root}/rollout`;

    // What the hosts were last given: read before this run writes anything.
    const stored = aws.ssm.getParametersByPathOutput(
      { path: root, recursive: true, withDecryption: false },
      parent,
    );
    const decision = pulumi
      .all([stored, args.files, args.userlist])
      .apply(([s, files, userlist]) => {
        const next = Object.fromEntries(
          Object.entries(files).map(([host, f]) => [host, { ...f, "userlist.txt": userlist }]),
        );
        return fleetRollout(
          { files: previousFiles(root, s), rollout: parseRecord(s, recordName) },
          next,
        );
      });
    // Secret only by descent: the reasons name keys and files, never a value from the userlist,
    // and the revision is a SHA-256 over the files. The association needs them in the clear.
    this.rollout = pulumi.unsecret(decision);

    const parameters: aws.ssm.Parameter[] = [];
    for (const host of args.hosts) {
      for (const file of Object.keys(DELIVERED_FILES) as DeliveredFileName[]) {
        const secret = file === "userlist.txt";
        parameters.push(
          new aws.ssm.Parameter(
            `${name}-${host}-${file}`,
            {
              name: `${hostParameterPath(args.stack, host)}/${file}`,
              description: `pg-pooling ${file} of ${host}`,
              // An ini over 4 KiB needs the advanced tier; intelligent tiering picks it then.
              tier: "Intelligent-Tiering",
              ...(secret
                ? { type: "SecureString", value: pulumi.secret(args.userlist) }
                : {
                    type: "String",
                    insecureValue: args.files.apply((f) => f[host]![file as keyof PublicFiles]),
                  }),
              tags: args.tags,
            },
            parent,
          ),
        );
      }
    }
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

    const document = new aws.ssm.Document(
      `${name}-apply`,
      {
        documentType: "Command",
        documentFormat: "JSON",
        targetType: "/AWS::EC2::Instance",
        content: JSON.stringify(applyDocument(), null, 2),
        tags: args.tags,
      },
      parent,
    );
    const association = new aws.ssm.Association(
      `${name}-apply`,
      {
        name: document.name,
        targets: [{ key: "InstanceIds", values: args.instanceIds }],
        parameters: { action: this.rollout.action, revision: this.rollout.revision },
        // One host at a time, and stop at the first failure: the others keep serving.
        maxConcurrency: "1",
        maxErrors: "0",
        complianceSeverity: "HIGH",
        // A restart makes `pulumi up` wait for the whole roll, and fail if a host fails.
        waitForSuccessTimeoutSeconds: this.rollout.apply((r) =>
          r.action === "rolling-restart"
            ? args.hosts.length * CLOUD_DEFAULTS.rolloutSecondsPerHost
            : undefined,
        ),
        tags: args.tags,
      },
      { parent: this, dependsOn: [...parameters, record, ...(args.readyAfter ?? [])] },
    );

    this.parameterArns = [...parameters, record].map((p) => p.arn);
    this.associationId = association.associationId;
    this.registerOutputs({ rollout: this.rollout, associationId: this.associationId });
  }
}

type Stored = aws.ssm.GetParametersByPathResult;

/** `/pg-pooling/<stack>/<host>/<file>` String parameters → files per host. */
function previousFiles(root: string, stored: Stored): Record<string, FileSet> {
  const files: Record<string, Record<string, string>> = {};
  stored.names.forEach((name, i) => {
    const m = new RegExp(`^${root}/([^/]+)/([^/]+)$`).exec(name);
    if (!m || stored.types[i] !== "String") return; // the encrypted userlist is not comparable
    (files[m[1]!] ??= {})[m[2]!] = stored.values[i]!;
  });
  return files;
}

function parseRecord(stored: Stored, recordName: string): FleetRollout | undefined {
  const i = stored.names.indexOf(recordName);
  return i < 0 ? undefined : parseFleetRollout(stored.values[i]);
}
