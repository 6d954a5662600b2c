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

/** 12.345 → "12.3%". */
export function pct(v: number): string {
  return `${Math.round(v * 10) / 10}%`;
}

/** Bytes per second, IEC: "1.5 MiB/s". */
export function rate(v: number): string {
  return `${bytes(v)}/s`;
}

/** Plain counts and ratios: 1234567 → "1.2M", 0.25 → "0.25". */
export function count(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e9) return `${(v / 1e9).toFixed(1)}G`;
  if (a >= 1e6) return `${(v / 1e6).toFixed(1)}M`;
  if (a >= 1e4) return `${(v / 1e3).toFixed(1)}k`;
  return String(Math.round(v * 100) / 100);
}

/** HH:MM:SS local time. */
export function clock(ms: number): string {
  return new Date(ms).toLocaleTimeString([], { hour12: false });
}

/** "+3s", "-1m 5s": a clock skew in seconds. */
export function skew(seconds: number): string {
  const a = Math.abs(seconds);
  const text = a < 60 ? `${a}s` : `${Math.floor(a / 60)}m ${a % 60}s`;
  return `${seconds < 0 ? "-" : "+"}${text}`;
}
