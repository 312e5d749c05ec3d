import { writeFile } from "node:fs/promises";
import { connect as netConnect } from "node:net";
import { join } from "node:path";
import type { Plan } from "../platform/plan.js";
import { generatedHeader } from "../pgbouncer/header.js";
import { run } from "./exec.js";
import { ensureServiceDir } from "./service-files.js";
import { daemonPid, startDaemon, stopDaemon, waitFor, isPortFree } from "./daemons.js";
import { pgbouncerAddress } from "./topology.js";
import { SERVICE_USER, stateDir } from "./state-dir.js";

/**
 * HAProxy (Debian 12's) in TCP mode in front of the PgBouncer hosts: the local stack's network load
 * balancer, where the cloud has its NLB. Clients reach the tier through it only, as in production.
 * Like the NLB it forwards TCP to healthy targets (a TCP connect check), spreads new connections
 * over them, retries a connect that fails on another target, cuts a dead target's connections,
 * and drops idle connections after the NLB's fixed 350 s. Drain and ready go through HAProxy's
 * runtime API (deregistering and registering a target), for rolling restarts.
 */
export const HAPROXY = {
  /** The NLB's TCP idle timeout, which AWS does not let one change. */
  idleTimeoutSeconds: 350,
  /** Health check: every 250 ms, down after 2 failures, up after 2 successes. */
  checkIntervalMs: 250,
  fall: 2,
  rise: 2,
  connectTimeoutMs: 1_000,
} as const;

const BACKEND = "pgbouncer";
const dir = () => join(stateDir(), "haproxy");
const file = (name: string) => join(dir(), name);
export const haproxySocket = () => file("admin.sock");
/** A host's server name in the backend: the host's name. */
export const serverName = (hostName: string) => hostName;

/** Connections the balancer takes: every client of the plan, with room for admin and drills. */
const maxConnections = (plan: Plan) => plan.hosts.reduce((n, h) => n + h.maxClientConn, 0) * 2;

export function renderHaproxyConfig(plan: Plan, state = stateDir()): string {
  const port = plan.config.pgbouncer.port;
  const h = HAPROXY;
  const servers = plan.hosts.map(
    (host) =>
      `    server ${serverName(host.name)} ${pgbouncerAddress(host.index)}:${port} check inter ${h.checkIntervalMs} fall ${h.fall} rise ${h.rise}`,
  );
  return [
    generatedHeader(
      "#",
      "haproxy.cfg: the local stack's load balancer in front of PgBouncer",
    ).trimEnd(),
    "global",
    `    maxconn ${maxConnections(plan)}`,
    `    stats socket ${join(state, "haproxy", "admin.sock")} mode 600 level admin`,
    "",
    "defaults",
    "    mode tcp",
    `    timeout connect ${h.connectTimeoutMs}ms`,
    `    timeout client ${h.idleTimeoutSeconds}s`,
    `    timeout server ${h.idleTimeoutSeconds}s`,
    "    retries 2",
    "    option redispatch",
    "",
    `frontend ${BACKEND}-endpoint`,
    `    bind ${plan.config.pgbouncer.endpoint}:${port}`,
    `    maxconn ${maxConnections(plan)}`,
    `    default_backend ${BACKEND}`,
    "",
    `backend ${BACKEND}`,
    "    balance roundrobin",
    "    default-server on-marked-down shutdown-sessions",
    ...servers,
    "",
  ].join("\n");
}

export async function haproxyUp(plan: Plan): Promise<void> {
  // HAProxy listens on the endpoint the clients are given (a loopback address: validate.ts).
  const endpoint = plan.config.pgbouncer.endpoint;
  if (await daemonPid(file("haproxy.pid"))) return;
  await ensureServiceDir(dir(), SERVICE_USER);
  await writeFile(file("haproxy.cfg"), renderHaproxyConfig(plan));
  await run("haproxy", ["-c", "-q", "-f", file("haproxy.cfg")], { asUser: SERVICE_USER });
  const port = plan.config.pgbouncer.port;
  if (!(await isPortFree(endpoint, port)))
    throw new Error(`${endpoint}:${port} is already in use: stop what listens there`);
  // runuser resets the open-files limit; HAProxy needs two descriptors per connection.
  const files = maxConnections(plan) * 2 + 100;
  await startDaemon(
    "sh",
    ["-c", `ulimit -n ${files} && exec haproxy -db -f ${file("haproxy.cfg")}`],
    {
      asUser: SERVICE_USER,
      logFile: file("haproxy.log"),
      pidFile: file("haproxy.pid"),
    },
  );
  await waitFor(
    `HAProxy to listen on ${endpoint}:${port}`,
    async () => !(await isPortFree(endpoint, port)),
    10_000,
  );
  await waitFor(
    "HAProxy to see every PgBouncer host up",
    async () => (await serverStates()).every((s) => s.up),
    10_000,
  );
}

export function haproxyDown(): Promise<void> {
  return stopDaemon(file("haproxy.pid"));
}

export async function haproxyRunning(): Promise<boolean> {
  return (await daemonPid(file("haproxy.pid"))) !== undefined;
}

/** One command on the runtime API; its answer. */
export function haproxyCommand(command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = netConnect(haproxySocket());
    let out = "";
    socket.setEncoding("utf8");
    socket.on("data", (d: string) => (out += d));
    socket.on("error", (e) => reject(new Error(`HAProxy runtime API (${command}): ${e.message}`)));
    socket.on("end", () => resolve(out));
    socket.on("connect", () => socket.end(`${command}\n`));
  });
}

/** Each PgBouncer host's state in the balancer: up (health check), and drained or not. */
export async function serverStates(): Promise<{ server: string; up: boolean; admin: string }[]> {
  const out = await haproxyCommand(`show servers state ${BACKEND}`);
  // Format 1: be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state ...
  return out
    .split("\n")
    .filter((l) => /^\d+ /.test(l))
    .map((l) => l.split(" "))
    .map((f) => ({ server: f[3]!, up: f[5] === "2", admin: f[6] === "0" ? "ready" : "drain" }));
}

/** Stops new connections to a host (deregistering an NLB target); established ones stay. */
export async function drainHost(hostName: string): Promise<void> {
  await setState(hostName, "drain");
}

/** Puts a host back in rotation. */
export async function readyHost(hostName: string): Promise<void> {
  await setState(hostName, "ready");
}

async function setState(hostName: string, state: "drain" | "ready"): Promise<void> {
  const answer = await haproxyCommand(
    `set server ${BACKEND}/${serverName(hostName)} state ${state}`,
  );
  if (answer.trim() !== "")
    throw new Error(`HAProxy refused ${state} of ${hostName}: ${answer.trim()}`);
}
