import os from "node:os";
import { type Collector, createSnapshots, round, unixSeconds } from "./collector.js";
import { type CpuTimes, parseProcStat, readProc } from "./proc.js";

/** Aggregate CPU times: /proc/stat on Linux, else Node's per-core times summed (no iowait). */
async function readCpuTimes(): Promise<CpuTimes> {
  const text = await readProc("/proc/stat");
  if (text !== undefined) return parseProcStat(text);
  const t: CpuTimes = {
    user: 0,
    nice: 0,
    system: 0,
    idle: 0,
    iowait: 0,
    irq: 0,
    softirq: 0,
    steal: 0,
  };
  for (const c of os.cpus()) {
    t.user += c.times.user;
    t.nice += c.times.nice;
    t.system += c.times.sys;
    t.idle += c.times.idle;
    t.irq += c.times.irq;
  }
  return t;
}

/** Percentages of one interval from two snapshots of cumulative CPU times. */
export function cpuPercents(prev: CpuTimes, cur: CpuTimes) {
  const d = (k: keyof CpuTimes) => Math.max(0, cur[k] - prev[k]);
  const total =
    d("user") +
    d("nice") +
    d("system") +
    d("idle") +
    d("iowait") +
    d("irq") +
    d("softirq") +
    d("steal");
  const pct = (v: number) => (total > 0 ? round((v / total) * 100) : 0);
  return {
    usage_percent: pct(total - d("idle") - d("iowait")),
    user_percent: pct(d("user") + d("nice")),
    system_percent: pct(d("system") + d("irq") + d("softirq")),
    idle_percent: pct(d("idle")),
    iowait_percent: pct(d("iowait")),
    steal_percent: pct(d("steal")),
  };
}

/** cpu: /proc/stat deltas over the collector's interval, load from /proc/loadavg (os.loadavg). */
export function createCpuCollector(): Collector {
  const snapshot = createSnapshots(readCpuTimes);
  return {
    type: "cpu",
    async collect(now) {
      const { prev, cur } = await snapshot();
      const [load1, load5, load15] = os.loadavg() as [number, number, number];
      return [
        {
          type: "cpu",
          timestamp: unixSeconds(now),
          labels: {},
          values: { ...cpuPercents(prev, cur), load1, load5, load15, cores: os.cpus().length },
        },
      ];
    },
  };
}
