import { readFile, writeFile } from "node:fs/promises";
import { inRootPath } from "./runtime.js";
import { nodeHostName } from "./topology.js";

/**
 * The Postgres nodes' names in the production-line root's own /etc/hosts, where PgBouncer (and
 * every server of the root) resolves them; this machine's files are left alone. The stack's
 * lines sit in one marked block that `up` writes, `down` removes, and a failover rewrites.
 */
const BEGIN = "# pg-pooling local stack: Postgres node names (begin)";
const END = "# pg-pooling local stack (end)";
const hostsFile = () => inRootPath("/etc/hosts");

/** The file without our block. */
function withoutBlock(text: string): string {
  const start = text.indexOf(BEGIN);
  const end = text.indexOf(END);
  if (start < 0 || end < start) return text;
  return text.slice(0, start) + text.slice(end + END.length).replace(/^\n/, "");
}

/** Writes the block: each node's name → its address. */
export async function writeNodeNames(nodes: readonly { name: string; address: string }[]) {
  const rest = withoutBlock(await readFile(hostsFile(), "utf8").catch(() => ""));
  const lines = nodes.map((n) => `${n.address}\t${nodeHostName(n.name)}`);
  const block = [BEGIN, ...lines, END].join("\n") + "\n";
  await writeFile(hostsFile(), (rest.endsWith("\n") || rest === "" ? rest : rest + "\n") + block);
}

/** The names the block holds now: node name → address. */
export async function nodeNames(): Promise<Map<string, string>> {
  const text = await readFile(hostsFile(), "utf8").catch(() => "");
  const start = text.indexOf(BEGIN);
  const end = text.indexOf(END);
  const names = new Map<string, string>();
  if (start < 0 || end < start) return names;
  for (const line of text
    .slice(start + BEGIN.length, end)
    .trim()
    .split("\n")) {
    const [address, name] = line.split("\t");
    if (address && name) names.set(name, address);
  }
  return names;
}

/** Points one node's name at another address (a failover moving the primary's name). */
export async function moveNodeName(node: string, address: string): Promise<void> {
  const names = await nodeNames();
  const name = nodeHostName(node);
  if (!names.has(name)) throw new Error(`no local node name ${name} to move`);
  names.set(name, address);
  const nodes = [...names].map(([n, a]) => ({ name: n.replace(/\..*$/, ""), address: a }));
  await writeNodeNames(nodes);
}

export async function removeNodeNames(): Promise<void> {
  const text = await readFile(hostsFile(), "utf8").catch(() => undefined);
  if (text !== undefined) await writeFile(hostsFile(), withoutBlock(text));
}
