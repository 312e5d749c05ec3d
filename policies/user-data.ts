import { gunzipSync } from "node:zlib";
import { parse } from "yaml";
import { DELIVERED_FILES, type DeliveredFileName } from "../pgbouncer/agent.js";

/**
 * A host's user-data, read back: EC2 takes it base64 (`userDataBase64`) or as text (`userData`),
 * either possibly gzipped (cloud-init detects gzip), and our hosts get a #cloud-config whose
 * write_files carry PgBouncer's files at the paths of DELIVERED_FILES.
 */
export function decodeUserDataInput(value: string, base64: boolean): string {
  const bytes = base64 ? Buffer.from(value, "base64") : Buffer.from(value, "utf8");
  const gzipped = bytes.length > 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
  return (gzipped ? gunzipSync(bytes) : bytes).toString("utf8");
}

interface WriteFile {
  path?: unknown;
  content?: unknown;
  encoding?: unknown;
}

/** The delivered files found in a #cloud-config's write_files, by file name and path. */
export function filesFromCloudConfig(
  text: string,
): Partial<Record<DeliveredFileName, { path: string; text: string }>> {
  let doc: unknown;
  try {
    doc = parse(text, { version: "1.1" });
  } catch {
    return {};
  }
  const writeFiles = (doc as { write_files?: unknown } | null)?.write_files;
  if (!Array.isArray(writeFiles)) return {};
  const byPath = new Map(
    (Object.keys(DELIVERED_FILES) as DeliveredFileName[]).map((n) => [DELIVERED_FILES[n].path, n]),
  );
  const out: Partial<Record<DeliveredFileName, { path: string; text: string }>> = {};
  for (const f of writeFiles as WriteFile[]) {
    const name = typeof f?.path === "string" ? byPath.get(f.path) : undefined;
    if (!name || typeof f.content !== "string") continue;
    out[name] = { path: f.path as string, text: writeFileContent(f.content, f.encoding) };
  }
  return out;
}

/** cloud-init's write_files encodings: plain, b64/base64, gz+b64/gzip+base64. */
function writeFileContent(content: string, encoding: unknown): string {
  switch (encoding) {
    case "b64":
    case "base64":
      return Buffer.from(content, "base64").toString("utf8");
    case "gz+b64":
    case "gzip+base64":
    case "gz+base64":
      return gunzipSync(Buffer.from(content, "base64")).toString("utf8");
    default:
      return content;
  }
}
