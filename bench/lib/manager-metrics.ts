/**
 * Reads the manager's own /metrics (fleet_rpc_requests_total by method and
 * code): h2load only sees HTTP statuses, the manager counts gRPC codes.
 */
export async function rpcCodes(httpUrl: string, method: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  let text: string;
  try {
    const res = await fetch(`${httpUrl}/metrics`);
    if (!res.ok) return out;
    text = await res.text();
  } catch {
    return out;
  }
  for (const line of text.split("\n")) {
    if (!line.startsWith("fleet_rpc_requests_total{")) continue;
    const labels = line.slice(line.indexOf("{") + 1, line.lastIndexOf("}"));
    if (!labels.includes(`method="${method}"`)) continue;
    const code = /code="([^"]*)"/.exec(labels)?.[1] ?? "?";
    out[code] = (out[code] ?? 0) + Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return out;
}

/** Counts by code between two snapshots. */
export function codeDelta(
  before: Record<string, number>,
  after: Record<string, number>,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [code, n] of Object.entries(after)) {
    const d = n - (before[code] ?? 0);
    if (d > 0) out[code] = d;
  }
  return out;
}

/** One unlabelled sample from the manager's /metrics, e.g. its event-loop lag; NaN if absent. */
export async function metricValue(httpUrl: string, name: string): Promise<number> {
  try {
    const res = await fetch(`${httpUrl}/metrics`);
    const text = await res.text();
    const line = text.split("\n").find((l) => l.startsWith(`${name} `));
    return line ? Number(line.slice(name.length + 1)) : Number.NaN;
  } catch {
    return Number.NaN;
  }
}
