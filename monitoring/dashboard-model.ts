/**
 * The dashboards as plain data: titles, queries, units, thresholds. dashboard-specs.ts fills it
 * from the plan; dashboards.ts turns it into Grafana JSON with the foundation SDK.
 */

export interface QuerySpec {
  expr: string;
  legend: string;
}

export interface PanelSpec {
  title: string;
  kind: "timeseries" | "stat";
  unit: string;
  queries: QuerySpec[];
  description?: string;
  /** Threshold steps above the base (green): [value, color]. */
  thresholds?: [number, string][];
  /** Value → text, for state gauges. */
  valueText?: Record<string, string>;
}

export interface RowSpec {
  title: string;
  panels: PanelSpec[];
}

export interface VariableSpec {
  name: string;
  label: string;
  values: string[];
  /** Offer "All" (regex `.*`) as well as each value. */
  includeAll: boolean;
}

export interface DashboardSpec {
  uid: string;
  title: string;
  description: string;
  variables: VariableSpec[];
  rows: RowSpec[];
}

/** Grafana's rate window: at least four scrapes, whatever the dashboard's resolution. */
export const RATE = "$__rate_interval";

export const q = (expr: string, legend: string): QuerySpec => ({ expr, legend });
export const ts = (
  title: string,
  unit: string,
  queries: QuerySpec[],
  extra: Partial<PanelSpec> = {},
) => ({ title, kind: "timeseries", unit, queries, ...extra }) as PanelSpec;
export const stat = (title: string, expr: string, extra: Partial<PanelSpec> = {}) =>
  ({ title, kind: "stat", unit: "none", queries: [q(expr, "")], ...extra }) as PanelSpec;
