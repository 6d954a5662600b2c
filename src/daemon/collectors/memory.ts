import { OSUtils } from "node-os-utils";
import { type Collector, unixSeconds } from "./collector.js";

/** memory: node-os-utils reads /proc/meminfo correctly here. */
export function createMemoryCollector(osutils = new OSUtils()): Collector {
  return {
    type: "memory",
    async collect(now) {
      const info = await osutils.memory.info();
      if (!info.success) throw new Error(`memory info unavailable: ${JSON.stringify(info.error)}`);
      const m = info.data;
      return [
        {
          type: "memory",
          timestamp: unixSeconds(now),
          labels: {},
          values: {
            total_bytes: m.total.bytes,
            used_bytes: m.used.bytes,
            free_bytes: m.free.bytes,
            available_bytes: m.available.bytes,
            usage_percent: m.usagePercentage,
          },
        },
      ];
    },
  };
}
