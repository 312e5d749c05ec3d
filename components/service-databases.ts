import * as postgresql from "@pulumi/postgresql";
import * as pulumi from "@pulumi/pulumi";
import { DEFAULTS } from "../platform/defaults.js";
import type { Parent } from "./steps.js";

type Opt = pulumi.CustomResourceOptions;

/** Per-service roles and databases on the primary (replicas get them by replication). */
export interface ServiceDatabasesArgs {
  /**
   * How the provider reaches the primary, as the RDS master user: host and port (the admin
   * tunnel), user, password (secret), and the engine version it may assume.
   * @default none: required
   */
  connection: {
    host: pulumi.Input<string>;
    port: pulumi.Input<number>;
    username: pulumi.Input<string>;
    password: pulumi.Input<string>;
    engineVersion: string;
  };
  /**
   * The services from the plan: each gets a login role and a database of its own name. The
   * connection limit is the service's fleet-wide server share plus reserve (roleConnectionLimit).
   * @default none: required
   */
  services: { name: string; connectionLimit: number }[];
  /** SCRAM verifier per account, secret: stored as the role's password as is. @default none: required */
  verifiers: Record<string, pulumi.Input<string>>;
  /**
   * The exporters' login role (pg_monitor) and its limit: the exporters' reserve per node.
   * @default none: required
   */
  monitoring: { role: string; connectionLimit: number };
  /**
   * PgBouncer's auth_query: a role of that name and, in every service database, a SECURITY
   * DEFINER function that returns a login's verifier to it (RDS does not let PgBouncer read
   * pg_shadow directly). Its verifier must be in `verifiers`. @default undefined (off)
   */
  authQuery?: { role: string };
}

/** The read-only group role of a service: SELECT on its tables, nothing else. */
export const readerRole = (service: string) => `${service}_reader`;
export const AUTH_QUERY_SCHEMA = "pgbouncer";
export const AUTH_QUERY_FUNCTION = "get_auth";

/**
 * What the local stack does in SQL (local/roles.ts), as resources: each service owns its database
 * and reaches no other (CONNECT and TEMPORARY revoked from PUBLIC). A `<service>_reader` group
 * role is the read-only path: SELECT on the service's tables, now and later, for whoever is
 * granted it (reports, audits) instead of the owner. The ro PgBouncer entries log in as the
 * service itself (SCRAM pass-through cannot switch users) and land on replicas, which refuse
 * writes at the server.
 */
export class ServiceDatabases extends pulumi.ComponentResource {
  public readonly roles: pulumi.Output<string>[];
  public readonly databases: pulumi.Output<string>[];

  constructor(name: string, args: ServiceDatabasesArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pooling:postgres:ServiceDatabases", name, {}, opts);
    const provider = primaryProvider(name, args.connection, { parent: this });
    const opt = { parent: this, provider };
    const verifier = verifierOf(args.verifiers);

    const authRole = args.authQuery
      ? new postgresql.Role(
          `${name}-${args.authQuery.role}`,
          { name: args.authQuery.role, login: true, password: verifier(args.authQuery.role) },
          opt,
        )
      : undefined;
    const created = args.services.map((s) => serviceDatabase(name, s, { verifier, authRole, opt }));
    const roles = created.map((c) => c.role);
    const databases = created.map((c) => c.database);
    statsAndMonitoring(name, args.monitoring, verifier, opt);

    this.roles = roles;
    this.databases = databases;
    this.registerOutputs({ roles, databases });
  }
}

type Verifier = (account: string) => pulumi.Output<string>;

/**
 * The provider every role and database goes through: the RDS master on the primary, over the
 * admin tunnel, TLS required.
 */
function primaryProvider(
  name: string,
  c: ServiceDatabasesArgs["connection"],
  parent: Parent,
): postgresql.Provider {
  return new postgresql.Provider(
    `${name}-provider`,
    {
      host: c.host,
      port: c.port,
      username: c.username,
      password: pulumi.secret(c.password),
      database: "postgres",
      // The RDS master is not a superuser: the provider must not assume it can read passwords.
      superuser: false,
      sslmode: "require",
      connectTimeout: 15,
      expectedVersion: c.engineVersion,
    },
    parent,
  );
}

/** An account's verifier, secret; an account without one is an error, not a role without password. */
function verifierOf(verifiers: ServiceDatabasesArgs["verifiers"]): Verifier {
  return (account) => {
    const v = verifiers[account];
    if (v === undefined) throw new Error(`verifiers.${account} is missing: no password to set`);
    return pulumi.secret(v);
  };
}

/**
 * One service's login role and the database it owns, closed to PUBLIC, with its read-only group
 * role and, with auth_query, the lookup function. Returns the role's and the database's names.
 */
function serviceDatabase(
  name: string,
  s: ServiceDatabasesArgs["services"][number],
  inputs: { verifier: Verifier; authRole: postgresql.Role | undefined; opt: Opt },
) {
  const { opt } = inputs;
  const role = new postgresql.Role(
    `${name}-${s.name}`,
    {
      name: s.name,
      login: true,
      password: inputs.verifier(s.name),
      connectionLimit: s.connectionLimit,
    },
    opt,
  );
  const db = new postgresql.Database(`${name}-${s.name}`, { name: s.name, owner: role.name }, opt);
  const dbName = db.name;
  // privileges: [] revokes everything PUBLIC had on the database (CONNECT, TEMPORARY).
  new postgresql.Grant(
    `${name}-${s.name}-public`,
    { database: dbName, role: "public", objectType: "database", privileges: [] },
    opt,
  );
  readOnlyGroup(name, s.name, dbName, role, opt);
  if (inputs.authRole) authQueryFunction(name, s.name, dbName, inputs.authRole, opt);
  return { role: role.name, database: dbName };
}

/**
 * `<service>_reader`: CONNECT on the service's database, USAGE on its public schema, SELECT on
 * its tables now and, through default privileges, on the ones its owner creates later.
 */
function readOnlyGroup(
  name: string,
  service: string,
  dbName: pulumi.Output<string>,
  owner: postgresql.Role,
  opt: Opt,
): void {
  const reader = new postgresql.Role(
    `${name}-${readerRole(service)}`,
    { name: readerRole(service), login: false },
    opt,
  );
  const grant = (what: string, on: Omit<postgresql.GrantArgs, "database" | "role">) =>
    new postgresql.Grant(
      `${name}-${readerRole(service)}-${what}`,
      { database: dbName, role: reader.name, ...on },
      opt,
    );
  grant("connect", { objectType: "database", privileges: ["CONNECT"] });
  grant("usage", { objectType: "schema", schema: "public", privileges: ["USAGE"] });
  grant("select", {
    objectType: "table",
    schema: "public",
    objects: [],
    privileges: ["SELECT"],
  });
  new postgresql.DefaultPrivileges(
    `${name}-${readerRole(service)}-default`,
    {
      database: dbName,
      owner: owner.name,
      role: reader.name,
      schema: "public",
      objectType: "table",
      privileges: ["SELECT"],
    },
    opt,
  );
}

/**
 * The statement statistics extension and the exporters' login role: what `npm run tune` and the
 * postgres exporters read, none of the services' data.
 */
function statsAndMonitoring(
  name: string,
  monitoring: ServiceDatabasesArgs["monitoring"],
  verifier: Verifier,
  opt: Opt,
): void {
  // The query patterns npm run tune reads: the library is preloaded by the parameter group;
  // the extension, in one database of the primary, shows every database's statements.
  new postgresql.Extension(
    `${name}-${DEFAULTS.statementStats.library}`,
    { name: DEFAULTS.statementStats.library, database: DEFAULTS.statementStats.database },
    opt,
  );

  // pg_monitor: read every statistics view, and nothing of the services' data.
  new postgresql.Role(
    `${name}-${monitoring.role}`,
    {
      name: monitoring.role,
      login: true,
      password: verifier(monitoring.role),
      connectionLimit: monitoring.connectionLimit,
      roles: ["pg_monitor"],
    },
    opt,
  );
}

/** The auth_query function in one service database, executable by the auth role only. */
function authQueryFunction(
  name: string,
  service: string,
  database: pulumi.Output<string>,
  authRole: postgresql.Role,
  opt: Opt,
): void {
  const schema = new postgresql.Schema(
    `${name}-${service}-auth-schema`,
    { database, name: AUTH_QUERY_SCHEMA },
    opt,
  );
  const fn = new postgresql.Function(
    `${name}-${service}-auth-query`,
    {
      database,
      schema: schema.name,
      name: AUTH_QUERY_FUNCTION,
      args: [{ name: "p_usename", type: "text" }],
      returns: "TABLE(usename name, passwd text)",
      language: "sql",
      securityDefiner: true,
      // Fully qualified: a SECURITY DEFINER function must not follow the caller's search_path.
      body: "SELECT usename, passwd FROM pg_catalog.pg_shadow WHERE usename = p_usename",
    },
    opt,
  );
  const onFunction = (role: pulumi.Input<string>, privileges: string[], suffix: string) =>
    new postgresql.Grant(
      `${name}-${service}-auth-query-${suffix}`,
      {
        database,
        role,
        schema: schema.name,
        objectType: "function",
        objects: [fn.name],
        privileges,
      },
      opt,
    );
  onFunction("public", [], "public");
  onFunction(authRole.name, ["EXECUTE"], "execute");
  new postgresql.Grant(
    `${name}-${service}-auth-schema-usage`,
    {
      database,
      role: authRole.name,
      objectType: "schema",
      schema: schema.name,
      privileges: ["USAGE"],
    },
    opt,
  );
}
