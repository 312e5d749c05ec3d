import type { RunRecord } from "./types.js";

/**
 * The record reshaped for the charts: long-format rows (one value per series and tick), the
 * pools summed over hosts, and the drill's events. Pure data, no vega.
 */
export interface SeriesRow {
  t: number;
  series: string;
  value: number;
}

export interface Marker {
  t: number;
  label: string;
  /** Pixels from the top of the panel: labels of close events are staggered, not overprinted. */
  labelY: number;
}

/** Vertical distance between two drill labels, about one line of the label font. */
const MARKER_LABEL_STEP = 14;

export /** cl_waiting and sv_active per pool and tick, summed over hosts: 14 lines, not 28, per metric. */
function poolSeries(record: RunRecord): { clWaiting: SeriesRow[]; svActive: SeriesRow[] } {
  const sums = new Map<string, { t: number; pool: string; clWaiting: number; svActive: number }>();
  for (const s of record.pools) {
    const key = JSON.stringify([s.pool, s.t]);
    const sum = sums.get(key) ?? { t: s.t, pool: s.pool, clWaiting: 0, svActive: 0 };
    sum.clWaiting += s.clWaiting;
    sum.svActive += s.svActive;
    sums.set(key, sum);
  }
  const all = [...sums.values()];
  return {
    clWaiting: all.map((s) => ({ t: s.t, series: s.pool, value: s.clWaiting })),
    svActive: all.map((s) => ({ t: s.t, series: s.pool, value: s.svActive })),
  };
}

export function drillMarkers(record: RunRecord): Marker[] {
  const drill = record.drill;
  if (!drill) return [];
  const markers = [{ t: drill.faultAt, label: `fault: ${drill.name}`, labelY: 0 }];
  if (drill.healedAt !== undefined)
    markers.push({ t: drill.healedAt, label: "healed", labelY: MARKER_LABEL_STEP });
  return markers;
}

/** The x axis spans the run, or the last sample when a run overran its nominal duration. */
export function timeExtent(record: RunRecord): number {
  const last = (xs: readonly { t: number }[]) => xs[xs.length - 1]?.t ?? 0;
  return Math.max(
    record.meta.durationSeconds,
    last(record.throughput),
    last(record.pools),
    last(record.memory),
  );
}
