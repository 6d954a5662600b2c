/** "12s ago", "3m ago", "never" for Unix seconds. */
export function ago(unixSeconds: bigint | number, nowMs = Date.now()): string {
  const t = Number(unixSeconds);
  if (!t) return "never";
  const s = Math.max(0, Math.round(nowMs / 1000 - t));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86_400)}d ago`;
}

/** Local date and time for Unix seconds. */
export function when(unixSeconds: bigint | number): string {
  const t = Number(unixSeconds);
  return t ? new Date(t * 1000).toLocaleString() : "never";
}

/** 1536 → "1.5 KiB". */
export function bytes(v: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let i = 0;
  let x = Math.abs(v);
  while (x >= 1024 && i < units.length - 1) {
    x /= 1024;
    i++;
  }
  return `${v < 0 ? "-" : ""}${x >= 10 || i === 0 ? Math.round(x) : x.toFixed(1)} ${units[i]}`;
}

/** `k=v` pairs sorted by key. */
export function labelPairs(labels: Record<string, string>): string[] {
  return Object.entries(labels)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`);
}
