import { gunzipSync } from "node:zlib";
import { parse } from "yaml";
import { deliveredFileAt } from "../pgbouncer/delivered-files.js";
import type { FileCopy, HostConfig, Ref } from "./types.js";

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

/** One user-data input, decoded; none when it is absent, unknown or does not decode. */
export function decodedUserData(
  ref: Ref,
  field: string,
  value: unknown,
  base64: boolean,
): FileCopy | undefined {
  if (typeof value !== "string" || value === "") return undefined;
  try {
    return { ref, field, text: decodeUserDataInput(value, base64) };
  } catch {
    return undefined;
  }
}

/** The delivered files a decoded user-data writes, each named by the field and path it is at. */
export function userDataFiles(copy: FileCopy): HostConfig["files"] {
  const files: HostConfig["files"] = {};
  for (const [name, f] of Object.entries(filesFromCloudConfig(copy.text))) {
    files[name] = {
      ref: copy.ref,
      field: `${copy.field} → ${f.path}`,
      text: f.text,
    };
  }
  return files;
}

interface WriteFile {
  path?: unknown;
  content?: unknown;
  encoding?: unknown;
}

/** Every write_files entry of a #cloud-config, content decoded; none when it is not one. */
export function writeFilesOf(text: string): { path: string; text: string }[] {
  let doc: unknown;
  try {
    doc = parse(text, { version: "1.1" });
  } catch {
    return [];
  }
  const writeFiles = (doc as { write_files?: unknown } | null)?.write_files;
  if (!Array.isArray(writeFiles)) return [];
  return (writeFiles as WriteFile[]).flatMap((f) => {
    if (typeof f?.path !== "string" || typeof f.content !== "string") return [];
    try {
      return [{ path: f.path, text: writeFileContent(f.content, f.encoding) }];
    } catch {
      return []; // content that does not decode: cloud-init cannot write it either
    }
  });
}

/** The delivered files found in a #cloud-config's write_files, by file name and path. */
export function filesFromCloudConfig(text: string): Record<string, { path: string; text: string }> {
  const out: Record<string, { path: string; text: string }> = {};
  for (const f of writeFilesOf(text)) {
    const name = deliveredFileAt(f.path);
    if (name) out[name] = f;
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
