import os from "node:os";
import { type Collector, round, unixSeconds } from "./collector.js";
import { parseMeminfo, readProc } from "./proc.js";

/** Memory values from /proc/meminfo; `used` is total − available, as free(1) of procps-ng 4 shows it. */
export function memoryValues(info: Map<string, number>): Record<string, number> {
  const get = (k: string) => info.get(k) ?? 0;
  const total = get("MemTotal");
  const free = get("MemFree");
  // MemAvailable exists since Linux 3.14; older kernels get the classic estimate.
  const available = info.get("MemAvailable") ?? free + get("Buffers") + get("Cached");
  const used = Math.max(0, total - available);
  const swapTotal = get("SwapTotal");
  const swapFree = get("SwapFree");
  const swapUsed = Math.max(0, swapTotal - swapFree);
  return {
    total_bytes: total,
    used_bytes: used,
    free_bytes: free,
    available_bytes: available,
    buffers_bytes: get("Buffers"),
    cached_bytes: get("Cached"),
    usage_percent: total > 0 ? round((used / total) * 100) : 0,
    swap_total_bytes: swapTotal,
    swap_used_bytes: swapUsed,
    swap_free_bytes: swapFree,
    swap_usage_percent: swapTotal > 0 ? round((swapUsed / swapTotal) * 100) : 0,
  };
}

/**
 * memory: /proc/meminfo on Linux, Node's os.totalmem/freemem elsewhere (no swap there).
 * node-os-utils 2.0.5's memory.info() gives the same numbers (no swap) but costs the
 * daemon +1.6 MiB RSS (65.5 vs 63.9 MiB, 3 runs each, 2026-12-02), over its budget.
 */
export function createMemoryCollector(): Collector {
  return {
    type: "memory",
    async collect(now) {
      const text = await readProc("/proc/meminfo");
      const info = text
        ? parseMeminfo(text)
        : new Map([
            ["MemTotal", os.totalmem()],
            ["MemFree", os.freemem()],
            ["MemAvailable", os.freemem()],
          ]);
      return [
        { type: "memory", timestamp: unixSeconds(now), labels: {}, values: memoryValues(info) },
      ];
    },
  };
}
