import { readdir, readFile, realpath } from "node:fs/promises";
import { basename } from "node:path";
import { type Collector, createSnapshots, round, unixSeconds } from "./collector.js";
import { readMountUsage } from "./mounts.js";
import { type DiskCounters, parseDiskstats, ratePerSecond, readProc } from "./proc.js";

/** /dev/mapper/vg-root → dm-0: the name /proc/diskstats uses for a mounted device. */
async function kernelDeviceName(device: string): Promise<string | undefined> {
  if (!device.startsWith("/dev/")) return undefined;
  try {
    return basename(await realpath(device));
  } catch {
    // No device node here (containers, systemd PrivateDevices=): ask sysfs for mapper names.
    const mapper = /^\/dev\/mapper\/(.+)$/.exec(device)?.[1];
    if (mapper) {
      for (const dm of await readdir("/sys/block").catch(() => [] as string[])) {
        if (!dm.startsWith("dm-")) continue;
        const name = await readFile(`/sys/block/${dm}/dm/name`, "utf8").catch(() => "");
        if (name.trim() === mapper) return dm;
      }
    }
    return basename(device);
  }
}

async function readDiskCounters(): Promise<Map<string, DiskCounters>> {
  const text = await readProc("/proc/diskstats");
  return text === undefined ? new Map() : parseDiskstats(text);
}

/**
 * disk per mount point: sizes from statfs(2) over /proc/self/mountinfo, as df
 * computes them (node-os-utils 2.0.5 reports every disk as "/" with rounded
 * df -h values), read and write rates from /proc/diskstats deltas where the
 * kernel has the device.
 */
export function createDiskCollector(mountPoints: readonly string[] = []): Collector {
  const io = createSnapshots(readDiskCounters);
  const names = new Map<string, string | undefined>();
  return {
    type: "disk",
    async collect(now) {
      const [fsList, counters] = await Promise.all([readMountUsage(), io()]);
      const out = [];
      for (const fs of fsList) {
        if (mountPoints.length > 0 && !mountPoints.includes(fs.mount)) continue;
        if (!names.has(fs.device)) names.set(fs.device, await kernelDeviceName(fs.device));
        const dev = names.get(fs.device);
        const values: Record<string, number> = {
          total_bytes: fs.total,
          used_bytes: fs.used,
          free_bytes: fs.available,
          // df's definition: used / (used + available to unprivileged users).
          usage_percent:
            fs.used + fs.available > 0 ? round((fs.used / (fs.used + fs.available)) * 100) : 0,
        };
        const a = dev ? counters.prev.get(dev) : undefined;
        const b = dev ? counters.cur.get(dev) : undefined;
        if (a && b) {
          const r = ratePerSecond(a.readBytes, b.readBytes, counters.seconds);
          const w = ratePerSecond(a.writeBytes, b.writeBytes, counters.seconds);
          if (r !== undefined) values.read_bytes_per_second = round(r);
          if (w !== undefined) values.write_bytes_per_second = round(w);
        }
        out.push({
          type: "disk",
          timestamp: unixSeconds(now),
          labels: { mount: fs.mount, device: fs.device, fstype: fs.fstype },
          values,
        });
      }
      return out;
    },
  };
}
