import type { DaemonConfig } from "../config.js";
import type { Collector } from "./collector.js";
import { createCpuCollector } from "./cpu.js";
import { createDiskCollector } from "./disk.js";
import { createMemoryCollector } from "./memory.js";
import { createNetworkCollector } from "./network.js";

/** The enabled collectors, with their intervals. */
export function createCollectors(
  cfg: DaemonConfig["collectors"],
): { collector: Collector; intervalMs: number }[] {
  const all = [
    { on: cfg.cpu, collector: createCpuCollector() },
    { on: cfg.memory, collector: createMemoryCollector() },
    { on: cfg.disk, collector: createDiskCollector(cfg.disk.mountPoints) },
    { on: cfg.network, collector: createNetworkCollector(cfg.network.interfaces) },
  ];
  return all
    .filter((c) => c.on.enabled)
    .map((c) => ({ collector: c.collector, intervalMs: c.on.intervalMs }));
}
