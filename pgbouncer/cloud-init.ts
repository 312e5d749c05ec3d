import { gunzipSync, gzipSync } from "node:zlib";
import { stringify } from "yaml";
import type { HostPlan, Plan } from "../platform/plan.js";
import {
  AGENT_ENV,
  FIRST_BOOT,
  renderAgentEnv,
  renderFirstBoot,
  type AgentSettings,
} from "./agent.js";
import { deliveredFileTargets, type PublicFiles } from "./delivered-files.js";
import { PGDG_KEY, PGDG_KEYRING, PGDG_SOURCES, pgdgSources } from "./pgdg.js";
import { absolutePath } from "./sanitize.js";
import { isWithheld } from "./secret-files.js";

/**
 * The user-data of one PgBouncer host: a #cloud-config that adds the PGDG apt repository (its key
 * embedded), pins the PgBouncer release the config is rendered for, installs it, writes exactly
 * the files without a secret the renderers made for this host, and runs the first-boot script
 * that starts it. No secret is ever in it, since any process on the host can read it through
 * IMDS: the verifiers (userlist.txt) and the TLS pair are withheld (secret-files.ts), and the
 * first boot fetches them from Parameter Store. Only the first boot reads it: later revisions
 * arrive through SSM (agent.ts), so a changed user-data never needs the host replaced.
 *
 * Module order on Debian 12: write_files (init stage) → apt sources → packages (final stage) →
 * deferred write_files → runcmd. The pin and sources must exist before the install; the files
 * owned by `postgres` are deferred because the package creates that user.
 */

/** EC2 accepts at most 16 KiB of user-data, counted before base64. */
export const USER_DATA_LIMIT = 16 * 1024;

/**
 * Packages besides PgBouncer: the AWS CLI (the withheld files at first boot, the SSM apply
 * script), CA roots and curl for the downloads. No OpenSSL tool: the host makes no certificate of
 * its own.
 */
const PACKAGES = ["awscli", "ca-certificates", "curl", "pgbouncer"];

/**
 * Files and commands another part of the host brings to its first boot (the exporters'
 * units and install script, monitoring/exporter-units.ts): written as root, run after
 * PgBouncer's own first boot. Declared here so the renderer needs nothing of monitoring/.
 */
export interface BootExtras {
  files: readonly { path: string; mode: string; content: string }[];
  commands: readonly (string | readonly string[])[];
}

export interface CloudInitInput {
  plan: Plan;
  host: HostPlan;
  /**
   * renderHostFiles' output for this host plus the apt pin, without the withheld files (agent.ts
   * publicFiles): a userlist given here is refused, never written. @default none: required
   */
  files: PublicFiles & Record<string, string>;
  agent: AgentSettings;
  /**
   * The exporters' units and scripts (monitoring/exporter-units.ts): written with the other root
   * files, installed and started after the first boot, whether or not PgBouncer started (its
   * exporter then reports it down). @default none: a host without exporters
   */
  exporters?: BootExtras;
}

interface WriteFile {
  path: string;
  owner: string;
  permissions: string;
  content: string;
  defer?: boolean;
}

function writeFile(path: string, mode: string, owner: string, content: string): WriteFile {
  // Deferred: written after the packages, once the package's `postgres` user exists.
  const defer = owner !== "root";
  return {
    path: absolutePath(`write_files.${path}`, path),
    owner: `${owner}:${owner}`,
    permissions: mode,
    content,
    ...(defer ? { defer: true } : {}),
  };
}

export function renderCloudInit(input: CloudInitInput): string {
  const { plan, host, files, agent } = input;
  if (agent.host !== host.name) {
    throw new Error(`agent.host must be the host rendered (${host.name}), got ${agent.host}`);
  }
  // The type keeps them out; this keeps out a caller that spread the delivered files in anyway.
  const withheld = Object.keys(files).filter(isWithheld);
  if (withheld.length > 0) {
    throw new Error(
      `files must hold no withheld file (user-data is readable through IMDS; the first boot fetches it from Parameter Store), got ${withheld.join(", ")}`,
    );
  }
  const delivered = Object.entries(deliveredFileTargets(plan))
    .filter(([name]) => !isWithheld(name))
    .map(([name, f]) => {
      const content = (files as Record<string, string | undefined>)[name];
      if (content === undefined)
        throw new Error(`files must hold ${name} for ${host.name} (${f.path}), got none`);
      return writeFile(f.path, f.mode, f.owner, content);
    });
  const exporters = input.exporters;
  const doc = {
    write_files: [
      writeFile(PGDG_KEYRING, "0644", "root", PGDG_KEY),
      writeFile(PGDG_SOURCES, "0644", "root", pgdgSources()),
      writeFile(AGENT_ENV, "0644", "root", renderAgentEnv(plan, agent)),
      writeFile(FIRST_BOOT, "0755", "root", renderFirstBoot(plan)),
      ...delivered,
      ...(exporters?.files ?? []).map((f) => writeFile(f.path, f.mode, "root", f.content)),
    ],
    package_update: true,
    packages: PACKAGES,
    runcmd: [FIRST_BOOT, ...(exporters?.commands ?? [])],
  };
  const header = [
    "#cloud-config",
    `# user-data for ${host.name} (PgBouncer ${plan.pgbouncerVersion.join(".")}, ${plan.environment})`,
    "# Generated by pg-pooling from the platform model. Do not edit: change the stack config",
    "# (Pulumi.<stack>.yaml) and deploy. Read at first boot only; later revisions arrive via SSM.",
  ];
  // YAML 1.1 quoting, as cloud-init's PyYAML reads it (`on`, `yes`, `0644` stay strings).
  const body = stringify(doc, { version: "1.1", lineWidth: 0, blockQuote: "literal" });
  return header.join("\n") + "\n" + body;
}

/**
 * user-data as EC2 takes it: gzip (cloud-init detects it) then base64. Compressed because the
 * embedded PGDG key, the ini and the exporters' files exceed the limit as text; gzip output is
 * deterministic, so the same files give the same bytes and no diff.
 */
export function encodeUserData(host: string, text: string): string {
  const gz = gzipSync(Buffer.from(text, "utf8"), { level: 9 });
  if (gz.length > USER_DATA_LIMIT) {
    throw new Error(
      `user-data of ${host} is ${gz.length} bytes gzipped, over EC2's ${USER_DATA_LIMIT}: fewer services per fleet or shorter files`,
    );
  }
  return gz.toString("base64");
}

export function decodeUserData(base64: string): string {
  return gunzipSync(Buffer.from(base64, "base64")).toString("utf8");
}
