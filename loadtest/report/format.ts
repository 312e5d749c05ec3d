/**
 * The one place a report turns numbers into text, so a value reads the same in every table, note
 * and heading. Counts are whole and grouped (`12,480`); measurements keep about three significant
 * digits, never fewer than whole units (`2.25`, `15.0`, `2,412`), so a column lines up the same
 * way whether a value happens to be whole or not.
 */
export function formatCount(value: number): string {
  return group(Math.round(value).toFixed(0));
}

export function formatMeasure(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const magnitude = Math.abs(value);
  return group(value.toFixed(magnitude >= 100 ? 0 : magnitude >= 10 ? 1 : 2));
}

/** A lone value of either kind: whole numbers as counts, the rest as measurements. */
export function formatNumber(value: number): string {
  return Number.isInteger(value) ? formatCount(value) : formatMeasure(value);
}

/** A formatted number followed by its unit: `12.5 ms`, `100%`, `1.50×`, `44 errors`. */
export function withUnit(formatted: string, unit: string): string {
  if (unit === "") return formatted;
  return unit === "%" || unit === "×" ? `${formatted}${unit}` : `${formatted} ${unit}`;
}

export function formatQuantity(value: number, unit: string): string {
  return withUnit(formatNumber(value), unit);
}

/** Code-point order, not locale order: sorted output is the same on every machine. */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function group(fixed: string): string {
  const [whole = "", fraction] = fixed.split(".");
  const sign = whole.startsWith("-") ? "-" : "";
  const digits = whole.slice(sign.length).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return fraction === undefined ? `${sign}${digits}` : `${sign}${digits}.${fraction}`;
}
