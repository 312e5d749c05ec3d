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
 * sha256 pins of release tarballs, taken from the releases' own sha256sums.txt by whoever adds
 * them. Empty: the earlier pins came from third-party copies, which nothing here could check
 * against the releases, so every tarball is checked at install time against its own release's
 * sha256sums.txt (integrity from the release itself, not a pin), and the install log says so.
 */
export const PINNED_SHA256: Readonly<Record<string, string>> = {};

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
