import type { MetricSample } from "../../../common/types.js";

/** One node's newest usage as found in a batch; null where the batch has none. */
export interface UsageDigest {
  n: string;
  /** Unix seconds of the newest usage sample in the batch. */
  at: number;
  c: number | null;
  m: number | null;
  d: number | null;
  rx: number | null;
  tx: number | null;
}

const num = (v: unknown): number | undefined =>
  typeof v === "number" && Number.isFinite(v) ? v : undefined;

/**
 * The usage columns a node's samples give: newest cpu and memory usage_percent,
 * the fullest mount at the newest disk timestamp, and rx/tx bytes/s summed over
 * interfaces other than loopback at the newest network timestamp. One pass over
 * the samples, no allocation per sample (the ingest path is hot).
 */
export function digestUsage(nodeId: string, samples: readonly MetricSample[]): UsageDigest | null {
  let ct = -1;
  let c: number | null = null;
  let mt = -1;
  let m: number | null = null;
  let dt = -1;
  let d: number | null = null;
  let nt = -1;
  let rx: number | null = null;
  let tx: number | null = null;
  for (const s of samples) {
    const t = s.timestamp;
    switch (s.type) {
      case "cpu": {
        const v = num(s.values.usage_percent);
        if (v !== undefined && t >= ct) [ct, c] = [t, v];
        break;
      }
      case "memory": {
        const v = num(s.values.usage_percent);
        if (v !== undefined && t >= mt) [mt, m] = [t, v];
        break;
      }
      case "disk": {
        const v = num(s.values.usage_percent);
        if (v === undefined || t < dt) break;
        if (t > dt) [dt, d] = [t, v];
        else d = Math.max(d ?? v, v);
        break;
      }
      case "network": {
        if (s.labels.interface === "lo") break;
        const r = num(s.values.rx_bytes_per_second);
        const x = num(s.values.tx_bytes_per_second);
        if ((r === undefined && x === undefined) || t < nt) break;
        if (t > nt) [nt, rx, tx] = [t, 0, 0];
        rx = (rx ?? 0) + (r ?? 0);
        tx = (tx ?? 0) + (x ?? 0);
        break;
      }
    }
  }
  const at = Math.max(ct, mt, dt, nt);
  return at < 0 ? null : { n: nodeId, at, c, m, d, rx, tx };
}

/** Two digests of one node: the newer one's values win where it has them. */
export function mergeUsage(a: UsageDigest, b: UsageDigest): UsageDigest {
  const [old, neu] = a.at <= b.at ? [a, b] : [b, a];
  return {
    n: neu.n,
    at: neu.at,
    c: neu.c ?? old.c,
    m: neu.m ?? old.m,
    d: neu.d ?? old.d,
    rx: neu.rx ?? old.rx,
    tx: neu.tx ?? old.tx,
  };
}
