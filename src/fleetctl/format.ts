/** Pads columns to their widest cell; the header row is first. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, [...cell].length);
    });
  }
  return rows
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

const BARS = "▁▂▃▄▅▆▇█";

/** One character per value, scaled between the series' min and max. */
export function sparkline(values: readonly number[]): string {
  if (values.length === 0) return "";
  const min = Math.min(...values);
  const max = Math.max(...values);
  return values
    .map((v) => {
      const i = max === min ? 3 : Math.round(((v - min) / (max - min)) * (BARS.length - 1));
      return BARS[i];
    })
    .join("");
}

/** "3m ago", "2h ago", "never" for Unix seconds relative to now. */
export function ago(unixSeconds: number, nowMs = Date.now()): string {
  if (!unixSeconds) return "never";
  const s = Math.max(0, Math.round(nowMs / 1000 - unixSeconds));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86_400)}d ago`;
}

/** Unix seconds as an ISO-8601 UTC time without milliseconds. */
export function isoTime(unixSeconds: number): string {
  return new Date(unixSeconds * 1000).toISOString().replace(".000Z", "Z");
}

/** `k=v,k2=v2`, sorted by key; "-" when empty. */
export function labelText(labels: Record<string, string>): string {
  const parts = Object.entries(labels)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`);
  return parts.length ? parts.join(",") : "-";
}

/** Numbers as people read them: up to 2 decimals, no trailing zeros. */
export function num(v: number): string {
  return Number.isInteger(v) ? String(v) : String(Math.round(v * 100) / 100);
}
