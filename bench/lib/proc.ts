import { readFileSync } from "node:fs";

/** Clock ticks per second on Linux (USER_HZ); 100 on every mainstream kernel. */
const TICKS_PER_SECOND = 100;

/** CPU time (user + system, ms) a process has used so far, from /proc. */
export function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name, which may contain spaces, in parentheses.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return ((utime + stime) * 1000) / TICKS_PER_SECOND;
}

/** Resident set size in bytes, from /proc/<pid>/status (VmRSS). */
export function processRssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  return m ? Number(m[1]) * 1024 : 0;
}

/** Total CPU time of a process tree rooted at pid (the process and its direct children). */
export function treeCpuMs(pid: number): number {
  let total = processCpuMs(pid);
  for (const child of childPids(pid)) {
    try {
      total += processCpuMs(child);
    } catch {
      // The child exited between listing and reading; its time is gone with it.
    }
  }
  return total;
}

function childPids(pid: number): number[] {
  try {
    const raw = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim();
    return raw ? raw.split(" ").map(Number) : [];
  } catch {
    return [];
  }
}

/** Measures a process's CPU over an interval: call start(), then cores() later. */
export function cpuMeter(pid: number) {
  let cpu0 = processCpuMs(pid);
  let t0 = performance.now();
  return {
    reset(): void {
      cpu0 = processCpuMs(pid);
      t0 = performance.now();
    },
    /** Cores used since the last reset (1.0 = one full core). */
    cores(): number {
      const dt = performance.now() - t0;
      return dt > 0 ? (processCpuMs(pid) - cpu0) / dt : 0;
    },
  };
}

function machineTicks(): { busy: number; total: number } {
  const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0] as string;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  return { busy: total - idle, total };
}

/** Busy cores of the whole machine over an interval (everything: us, PostgreSQL, neighbours). */
export function machineMeter() {
  let t0 = machineTicks();
  let w0 = performance.now();
  return {
    reset(): void {
      t0 = machineTicks();
      w0 = performance.now();
    },
    cores(): number {
      const t = machineTicks();
      const wall = (performance.now() - w0) / 1000;
      return wall > 0 ? (t.busy - t0.busy) / TICKS_PER_SECOND / wall : 0;
    },
  };
}
