import { generatedHeader } from "../pgbouncer/header.js";
import { EXPORTER_RELEASES } from "./catalogue.js";

/**
 * How the exporters' binaries reach a cloud PgBouncer host: the pinned release tarballs (versions
 * from EXPORTER_RELEASES in catalogue.ts, the one place they are pinned), their sha256, and the
 * script first boot runs to fetch, check and install them. exporter-units.ts writes the units
 * that run them.
 */

export type ExporterBinary = keyof typeof EXPORTER_RELEASES;

/**
 * sha256 of release tarballs, as the releases' sha256sums.txt list them. A tarball missing here is
 * checked against its release's sha256sums.txt at install time instead (integrity, not a pin), and
 * the install log says so: pgbouncer_exporter's sums were not found where they could be checked.
 */
export const PINNED_SHA256: Readonly<Record<string, string>> = {
  "postgres_exporter-0.20.1.linux-amd64.tar.gz":
    "89d4f7e7920cad48fdc3133f789556ef5253c330a9f5fdace3bdb6344c0a8b5a",
  "postgres_exporter-0.20.1.linux-arm64.tar.gz":
    "d5d86fb98bb1f26b088d1a6fda07fd6b6f035cb5d40492f75ec3bfebb5ddfe9d",
  "node_exporter-1.12.1.linux-amd64.tar.gz":
    "b51d8a76aa2a9156a55d501aca6276fae09e262259a5e4e831d2c2222f084e63",
  "node_exporter-1.12.1.linux-arm64.tar.gz":
    "ad35b605f9954b9f1ffddf5ba054bdc5a98d790b9eae5291e1eeb83f1ecbd0e7",
};

export const EXPORTER_ARCHITECTURES = ["amd64", "arm64"] as const;

/** Where the install script puts the binaries, and where the units run them from. */
export const BIN_DIR = "/usr/local/bin";

export function tarballName(binary: ExporterBinary, arch: string): string {
  return `${binary}-${EXPORTER_RELEASES[binary].version}.linux-${arch}.tar.gz`;
}

export function releaseUrl(binary: ExporterBinary): string {
  const r = EXPORTER_RELEASES[binary];
  return `${r.repo}/releases/download/v${r.version}`;
}

/**
 * Downloads each pinned release tarball, checks its sha256 BEFORE unpacking, and installs the
 * binary. `root` prefixes the install folder, `base` replaces the release URLs and `pins` the
 * table, so a test runs the real script against local tarballs.
 */
export function renderInstallScript(
  options: { root?: string; base?: string; pins?: Readonly<Record<string, string>> } = {},
): string {
  const root = options.root ?? "";
  const pinned = Object.entries(options.pins ?? PINNED_SHA256)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([file, sum]) => `    ${file}) echo ${sum} ;;`);
  const lines = [
    "set -eu",
    'log() { echo "pg-pooling-exporters-install: $*" >&2; }',
    "arch=$(dpkg --print-architecture)",
    `case "$arch" in ${EXPORTER_ARCHITECTURES.join("|")}) ;; *) log "no exporter release for $arch"; exit 1 ;; esac`,
    'pinned() {\n  case "$1" in',
    ...pinned,
    "    *) echo '' ;;\n  esac\n}",
    "stage=$(mktemp -d)\ntrap 'rm -rf \"$stage\"' EXIT",
    "fetch() {",
    '  binary=$1; version=$2; url=$3; tarball="$binary-$version.linux-$arch.tar.gz"',
    '  curl -fsSL --retry 5 -o "$stage/$tarball" "$url/$tarball"',
    '  sum=$(pinned "$tarball")',
    '  if [ -z "$sum" ]; then',
    '    log "$tarball has no pinned sha256: checking it against its release\'s sha256sums.txt"',
    '    curl -fsSL --retry 5 -o "$stage/sha256sums.txt" "$url/sha256sums.txt"',
    '    sum=$(awk -v f="$tarball" \'$2 == f { print $1 }\' "$stage/sha256sums.txt")',
    '    [ -n "$sum" ] || { log "$tarball is not in its release\'s sha256sums.txt"; exit 1; }',
    "  fi",
    '  if ! echo "$sum  $stage/$tarball" | sha256sum -c --status -; then',
    '    log "$tarball does not match sha256 $sum: not installed"; exit 1',
    "  fi",
    '  tar -xzf "$stage/$tarball" -C "$stage" "$binary-$version.linux-$arch/$binary"',
    `  install -D -m 0755 "$stage/$binary-$version.linux-$arch/$binary" "${root}${BIN_DIR}/$binary"`,
    '  log "$binary $version installed ($arch, sha256 $sum)"',
    "}",
    // Sorted, so the script (and the user-data embedding it) does not change with key order.
    ...(Object.keys(EXPORTER_RELEASES) as ExporterBinary[])
      .sort()
      .map((b) => `fetch ${b} ${EXPORTER_RELEASES[b].version} ${options.base ?? releaseUrl(b)}`),
  ];
  return (
    "#!/bin/sh\n" + generatedHeader("#", "pg-pooling exporters install") + lines.join("\n") + "\n"
  );
}
