/**
 * Replica lag in seconds without privileges or a heartbeat table. The primary's WAL position is
 * sampled periodically (pg_current_wal_lsn()); a replica reports how far it has replayed
 * (pg_last_wal_replay_lsn()). The replica is behind by at least the time since the primary first
 * stood beyond the replica's position. An idle primary does not look like lag (unlike
 * now() − pg_last_xact_replay_timestamp(), which grows while nothing is written).
 */

/** "16/B374D848" → 0x16B374D848n. */
export function parseLsn(text: string): bigint {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text.trim());
  if (!m) throw new Error(`not a WAL position (LSN): ${JSON.stringify(text)}`);
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

interface Sample {
  atMs: number;
  lsn: bigint;
}

export class LagEstimator {
  private readonly samples: Sample[] = [];

  /** @param keep samples kept; their span bounds the largest lag that can be measured. */
  constructor(private readonly keep = 600) {}

  /** A primary position observed at `atMs`. Positions never go back; older ones are ignored. */
  recordPrimary(lsn: bigint, atMs: number): void {
    const last = this.samples[this.samples.length - 1];
    if (last && lsn < last.lsn) return;
    this.samples.push({ atMs, lsn });
    if (this.samples.length > this.keep) this.samples.shift();
  }

  /**
   * Seconds a replica that has replayed up to `replayed` is behind, at `nowMs`; undefined before the
   * first primary sample. 0 when it has everything the primary had at its latest sample.
   */
  lagSeconds(replayed: bigint, nowMs: number): number | undefined {
    if (this.samples.length === 0) return undefined;
    const firstAhead = this.samples.find((s) => s.lsn > replayed);
    if (!firstAhead) return 0;
    return Math.max(0, (nowMs - firstAhead.atMs) / 1000);
  }
}
