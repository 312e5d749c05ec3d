import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { replicaAz } from "../platform/network.js";
import { CLOUD_DEFAULTS, parameterGroupFamily } from "./defaults.js";
import { rdsParameters } from "./rds-parameters.js";
import { namedTags, type Parent, type Tags } from "./steps.js";

/** The RDS PostgreSQL primary and its read replicas. */
export interface PostgresClusterArgs {
  /**
   * Exact engine version (`database.engineVersion`); minor upgrades are never automatic.
   * @default none: required
   */
  engineVersion: string;
  /** Class of the primary and every replica (`database.instanceClass`). @default none: required */
  instanceClass: string;
  /**
   * max_connections of every node: the plan's, which the connection budget is computed on.
   * @default none: required
   */
  maxConnections: number;
  /** superuser_reserved_connections (`database.superuserReservedConnections`). @default 3 */
  superuserReservedConnections?: number;
  /** Read replicas (`database.replicas`), spread over the AZs after the primary's. @default 0 */
  replicas?: number;
  /** Port every node listens on (`database.port`). @default 5432 */
  port?: number;
  /** A synchronous standby with automatic failover (`database.multiAz`). @default false */
  multiAz?: boolean;
  /** Storage at creation, GiB (gp3, encrypted). @default 50 */
  storageGb?: number;
  /** Ceiling of storage autoscaling, GiB. @default 200 */
  maxStorageGb?: number;
  /** Days of automated backups; replicas need ≥ 1. @default 7 */
  backupRetentionDays?: number;
  /** Refuse deletion of every node (`database.deletionProtection`). @default false */
  deletionProtection?: boolean;
  /** Snapshot the primary when it is deleted (`database.finalSnapshot`). @default false */
  finalSnapshot?: boolean;
  /** rds.force_ssl: refuse any connection without TLS. @default false */
  forceSsl?: boolean;
  /** Statements slower than this are logged. @default CLOUD_DEFAULTS.slowQueryMs (500) */
  slowQueryMs?: number;
  /** The VPC the nodes and their security group live in. @default none: required */
  vpcId: pulumi.Input<string>;
  /** Private subnets, one per AZ, for the subnet group. @default none: required */
  subnetIds: pulumi.Input<string>[];
  /**
   * AZ names in placement order: the primary goes to the first, replicas to the next ones.
   * @default none: required
   */
  availabilityZones: pulumi.Input<string>[];
  /** Tags on every resource; `Name` is added per resource. @default {} */
  tags?: Record<string, string>;
}

/**
 * One parameter group for every node: a hot standby refuses to start with max_connections below
 * its primary's, and the budget is computed for one value. The security group admits nobody on
 * its own; whoever may connect adds a rule naming its own group (PgBouncerFleet does).
 */
export class PostgresCluster extends pulumi.ComponentResource {
  public readonly primaryAddress: pulumi.Output<string>;
  public readonly primaryIdentifier: pulumi.Output<string>;
  public readonly replicaAddresses: pulumi.Output<string>[];
  public readonly port: number;
  public readonly masterUsername: string;
  /** Secret. */
  public readonly masterPassword: pulumi.Output<string>;
  public readonly securityGroupId: pulumi.Output<string>;
  public readonly parameterGroupName: pulumi.Output<string>;

  constructor(name: string, args: PostgresClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pooling:postgres:PostgresCluster", name, {}, opts);
    const parent = { parent: this };
    const tags = namedTags(name, args.tags);
    const port = args.port ?? 5432;

    const parameterGroup = sharedParameterGroup(name, args, tags, parent);
    const { subnets, sg, password } = placementAndAccess(name, args, port, tags, parent);
    const common = nodeSettings(args, parameterGroup, sg, port);
    const primary = primaryNode(name, args, { common, subnets, password, tags, parent });
    const replicaNodes = readReplicas(name, args, { common, primary, tags, parent });

    this.primaryAddress = primary.address;
    this.primaryIdentifier = primary.identifier;
    this.replicaAddresses = replicaNodes.map((r) => r.address);
    this.port = port;
    this.masterUsername = CLOUD_DEFAULTS.masterUser;
    this.masterPassword = pulumi.secret(password.result);
    this.securityGroupId = sg.id;
    this.parameterGroupName = parameterGroup.name;
    this.registerOutputs({
      primaryAddress: this.primaryAddress,
      replicaAddresses: this.replicaAddresses,
      securityGroupId: this.securityGroupId,
    });
  }
}

/**
 * The one parameter group of every node: the connection budget's max_connections, SCRAM, TLS
 * and logging (rds-parameters.ts).
 */
function sharedParameterGroup(
  name: string,
  args: PostgresClusterArgs,
  tags: Tags,
  parent: Parent,
): aws.rds.ParameterGroup {
  const params = rdsParameters({
    maxConnections: args.maxConnections,
    superuserReservedConnections: args.superuserReservedConnections,
    forceSsl: args.forceSsl,
    slowQueryMs: args.slowQueryMs,
  });
  return new aws.rds.ParameterGroup(
    `${name}-params`,
    {
      family: parameterGroupFamily(args.engineVersion),
      description: "pg-pooling: connection budget, SCRAM, TLS and logging",
      parameters: Object.entries(params).map(([key, [value, applyMethod]]) => ({
        name: key,
        value: String(value),
        applyMethod,
      })),
      tags: tags("params"),
    },
    parent,
  );
}

/**
 * Where the nodes live and who may log in: the subnet group over the private subnets, the
 * security group that admits nobody until a rule names a source, and the master password.
 */
function placementAndAccess(
  name: string,
  args: PostgresClusterArgs,
  port: number,
  tags: Tags,
  parent: Parent,
) {
  const subnets = new aws.rds.SubnetGroup(
    `${name}-subnets`,
    { subnetIds: args.subnetIds, tags: tags("subnets") },
    parent,
  );
  const sg = new aws.ec2.SecurityGroup(
    `${name}-sg`,
    {
      vpcId: args.vpcId,
      description: `pg-pooling Postgres: ${port} only from the groups given rules`,
      tags: tags("sg"),
    },
    parent,
  );
  // Letters and digits only: no quoting question anywhere (SQL, URLs, shells, SCRAM).
  const password = new random.RandomPassword(
    `${name}-master-password`,
    { length: CLOUD_DEFAULTS.passwordLength, special: false },
    parent,
  );
  return { subnets, sg, password };
}

/** What the primary and every replica share: class, parameters, network, protection, logs. */
function nodeSettings(
  args: PostgresClusterArgs,
  parameterGroup: aws.rds.ParameterGroup,
  sg: aws.ec2.SecurityGroup,
  port: number,
) {
  const protect = args.deletionProtection ?? false;
  return {
    instanceClass: args.instanceClass,
    parameterGroupName: parameterGroup.name,
    vpcSecurityGroupIds: [sg.id],
    port,
    publiclyAccessible: false,
    autoMinorVersionUpgrade: false,
    deletionProtection: protect,
    copyTagsToSnapshot: true,
    enabledCloudwatchLogsExports: ["postgresql"],
    // Protected (prod) changes wait for the maintenance window; dev applies them at once.
    applyImmediately: !protect,
  };
}

/**
 * The primary: engine, storage, the master user, backups and the final snapshot; Multi-AZ or
 * pinned to the first AZ.
 */
function primaryNode(
  name: string,
  args: PostgresClusterArgs,
  inputs: {
    common: ReturnType<typeof nodeSettings>;
    subnets: aws.rds.SubnetGroup;
    password: random.RandomPassword;
    tags: Tags;
    parent: Parent;
  },
): aws.rds.Instance {
  const { common, subnets, password, tags, parent } = inputs;
  return new aws.rds.Instance(
    `${name}-primary`,
    {
      ...common,
      engine: "postgres",
      engineVersion: args.engineVersion,
      dbSubnetGroupName: subnets.name,
      availabilityZone: args.multiAz ? undefined : args.availabilityZones[0],
      multiAz: args.multiAz ?? false,
      allocatedStorage: args.storageGb ?? 50,
      maxAllocatedStorage: args.maxStorageGb ?? 200,
      storageType: "gp3",
      storageEncrypted: true,
      username: CLOUD_DEFAULTS.masterUser,
      password: pulumi.secret(password.result),
      backupRetentionPeriod: args.backupRetentionDays ?? 7,
      skipFinalSnapshot: !(args.finalSnapshot ?? false),
      finalSnapshotIdentifier: args.finalSnapshot ? `${name}-primary-final` : undefined,
      tags: tags("primary"),
    },
    parent,
  );
}

/** The read replicas of the primary, in the AZs after the primary's (platform/network.ts). */
function readReplicas(
  name: string,
  args: PostgresClusterArgs,
  inputs: {
    common: ReturnType<typeof nodeSettings>;
    primary: aws.rds.Instance;
    tags: Tags;
    parent: Parent;
  },
): aws.rds.Instance[] {
  const { common, primary, tags, parent } = inputs;
  // Replicas inherit engine, storage encryption and subnet group from the primary.
  return Array.from({ length: args.replicas ?? 0 }, (_, i) => {
    const az = args.availabilityZones[replicaAz(i, args.availabilityZones.length)]!;
    return new aws.rds.Instance(
      `${name}-replica-${i + 1}`,
      {
        ...common,
        replicateSourceDb: primary.identifier,
        availabilityZone: az,
        maxAllocatedStorage: args.maxStorageGb ?? 200,
        skipFinalSnapshot: true,
        tags: tags(`replica-${i + 1}`),
      },
      parent,
    );
  });
}
