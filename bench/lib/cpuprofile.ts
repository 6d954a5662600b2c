import { readFileSync } from "node:fs";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

/** Where a frame's code lives, coarse enough to tell the stack from our code. */
export function bucketOf(url: string, fn: string): string {
  if (fn === "(garbage collector)") return "gc";
  if (fn === "(idle)" || fn === "(program)") return fn;
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1] as string;
  if (url.startsWith("node:")) return `node:${url.slice(5).split("/")[0]}`;
  if (url.includes("/src/manager/")) return "src/manager";
  if (url.includes("/src/")) return "src/other";
  if (url.includes("/gen/")) return "gen";
  if (url === "") return "native/builtin";
  return url;
}

/** Self time by bucket and by function, in ms and share of all samples (idle included). */
export function summarizeProfile(path: string, topN = 25) {
  const prof = JSON.parse(readFileSync(path, "utf8")) as {
    nodes: ProfileNode[];
    startTime: number;
    endTime: number;
    samples: number[];
  };
  const totalUs = prof.endTime - prof.startTime;
  const perSampleMs = totalUs / 1000 / Math.max(1, prof.samples.length);
  const byBucket = new Map<string, number>();
  const byFn = new Map<string, number>();
  let busy = 0;
  let all = 0;
  for (const n of prof.nodes) {
    const hits = n.hitCount ?? 0;
    if (!hits) continue;
    const { functionName, url, lineNumber } = n.callFrame;
    const b = bucketOf(url, functionName);
    byBucket.set(b, (byBucket.get(b) ?? 0) + hits);
    all += hits;
    if (b !== "(idle)") busy += hits;
    const key = `${functionName || "(anonymous)"} ${url.replace(/.*node_modules\//, "").replace(/.*\/work\/main\//, "")}:${lineNumber + 1}`;
    byFn.set(key, (byFn.get(key) ?? 0) + hits);
  }
  const sort = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, topN)
      .map(([k, v]) => ({ name: k, ms: v * perSampleMs, share: all ? v / all : 0 }));
  return {
    wallMs: totalUs / 1000,
    busyMs: busy * perSampleMs,
    buckets: sort(byBucket),
    functions: sort(byFn),
  };
}
