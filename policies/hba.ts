/**
 * PgBouncer's auth_hba_file as PgBouncer reads it (src/hba.c): `local DB USER METHOD` or
 * `host|hostssl|hostnossl DB USER ADDRESS[/BITS | MASK] METHOD`, names comma-separated, `all` for
 * any, first match wins, no match refuses. Read independently of pgbouncer/hba.ts, so a rule the
 * renderer got wrong is caught here rather than agreed with.
 */
export interface ParsedHbaRule {
  line: number;
  text: string;
  type: string;
  databases: string[];
  users: string[];
  family?: 4 | 6;
  /** The mask's length in bits: 0 matches every address of the family. */
  bits?: number;
  method: string;
}

export function parseHba(text: string): ParsedHbaRule[] {
  const rules: ParsedHbaRule[] = [];
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.replace(/#.*/, "").trim();
    if (!line) continue;
    const words = line.split(/\s+/);
    const [type, db = "", user = ""] = words;
    const rule: ParsedHbaRule = {
      line: i + 1,
      text: line,
      type: type!,
      databases: names(db),
      users: names(user),
      method: words[words.length - 1]!,
    };
    if (type !== "local" && words.length >= 5) {
      const [address, maskWord] = words[3]!.includes("/")
        ? words[3]!.split("/")
        : [words[3]!, words.length === 6 ? words[4] : undefined];
      rule.family = address!.includes(":") ? 6 : 4;
      rule.bits = address === "all" ? 0 : maskBits(maskWord, rule.family);
    }
    rules.push(rule);
  }
  return rules;
}

const names = (field: string) => field.split(",").filter(Boolean);

/** `/8` → 8, `255.0.0.0` → 8; an unreadable mask counts as the narrowest (it matches least). */
function maskBits(mask: string | undefined, family: 4 | 6): number {
  const width = family === 4 ? 32 : 128;
  if (mask === undefined) return width;
  if (/^\d+$/.test(mask)) return Number(mask);
  if (family === 4 && /^\d+\.\d+\.\d+\.\d+$/.test(mask))
    return mask.split(".").reduce((n, octet) => n + popcount(Number(octet)), 0);
  return width;
}

const popcount = (n: number) => n.toString(2).replace(/0/g, "").length;

/** A login over TCP from some address of one family. */
export interface TcpLogin {
  family: 4 | 6;
  tls: boolean;
  database: string;
  user: string;
}

const matchesName = (list: string[], name: string) => list.includes("all") || list.includes(name);

/**
 * The first rule that lets this login in from at least one address, or undefined when every
 * address is refused: a reject for the whole family stops the search, a narrower reject leaves
 * the other addresses to the rules below it.
 */
export function admittingRule(rules: ParsedHbaRule[], login: TcpLogin): ParsedHbaRule | undefined {
  for (const r of rules) {
    if (r.type === "local" || r.family !== login.family) continue;
    if (r.type === "hostssl" && !login.tls) continue;
    if (r.type === "hostnossl" && login.tls) continue;
    if (!matchesName(r.databases, login.database) || !matchesName(r.users, login.user)) continue;
    if (r.method !== "reject") return r;
    if (r.bits === 0) return undefined;
  }
  return undefined;
}
