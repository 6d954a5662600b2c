import os from "node:os";
import { OSUtils } from "node-os-utils";
import { type Collector, unixSeconds } from "./collector.js";

/** cpu: usage from node-os-utils (matches /proc/stat deltas), load averages from the kernel. */
export function createCpuCollector(osutils = new OSUtils()): Collector {
  return {
    type: "cpu",
    async collect(now) {
      const usage = await osutils.cpu.usage();
      if (!usage.success) throw new Error(`cpu usage unavailable: ${JSON.stringify(usage.error)}`);
      const [load1, load5, load15] = os.loadavg() as [number, number, number];
      return [
        {
          type: "cpu",
          timestamp: unixSeconds(now),
          labels: {},
          values: { usage_percent: usage.data, load1, load5, load15, cores: os.cpus().length },
        },
      ];
    },
  };
}
