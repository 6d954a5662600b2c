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

/**
 * One character per value, scaled between the series' min and max, at most
 * `width` characters (longer series are averaged down, so a line never wraps).
 * A flat series draws mid-height, except an all-zero one, which lies at the bottom.
 */
export function sparkline(values: readonly number[], width = Number.POSITIVE_INFINITY): string {
  const v = resample(values, Math.max(1, Math.floor(width)));
  if (v.length === 0) return "";
  const min = Math.min(...v);
  const max = Math.max(...v);
  const flat = max === min ? (max === 0 ? 0 : 3) : -1;
  return v
    .map((x) => BARS[flat >= 0 ? flat : Math.round(((x - min) / (max - min)) * (BARS.length - 1))])
    .join("");
}

/** At most `n` values: consecutive runs averaged (each output covers the same share). */
export function resample(values: readonly number[], n: number): number[] {
  if (values.length <= n) return [...values];
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const from = Math.floor((i * values.length) / n);
    const to = Math.floor(((i + 1) * values.length) / n);
    let sum = 0;
    for (let j = from; j < to; j++) sum += values[j] as number;
    out.push(sum / (to - from));
  }
  return out;
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

/** IEC bytes: 1572996437 → "1.46 GiB". */
export function bytes(v: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
  let x = Math.abs(v);
  let i = 0;
  while (x >= 1024 && i < units.length - 1) {
    x /= 1024;
    i++;
  }
  const text =
    i === 0
      ? String(Math.round(x))
      : x >= 100
        ? x.toFixed(0)
        : x >= 10
          ? x.toFixed(1)
          : x.toFixed(2);
  return `${v < 0 ? "-" : ""}${text} ${units[i]}`;
}

/** A value with the unit its name implies: *_bytes IEC, *_bytes_per_second IEC/s, *_percent %. */
export function withUnit(name: string, v: number): string {
  if (name.endsWith("_bytes_per_second")) return `${bytes(v)}/s`;
  if (name.endsWith("_per_second")) return `${num(v)}/s`;
  if (name.endsWith("_bytes")) return bytes(v);
  if (name.endsWith("_percent")) return `${num(Math.round(v * 10) / 10)}%`;
  if (name.endsWith("_seconds")) return `${num(v)}s`;
  return num(v);
}

/** A percentage column: "42.5%", or "-" without data. */
export function pctCell(v: number | undefined): string {
  return v === undefined ? "-" : `${(Math.round(v * 10) / 10).toFixed(1)}%`;
}
