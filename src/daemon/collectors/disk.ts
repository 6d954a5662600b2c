import si from "systeminformation";
import { type Collector, unixSeconds } from "./collector.js";

/**
 * disk per mount point, from systeminformation's fsSize (statfs-exact bytes;
 * node-os-utils 2.0.5 reports every disk as "/" with rounded df -h values).
 */
export function createDiskCollector(mountPoints: readonly string[] = []): Collector {
  return {
    type: "disk",
    async collect(now) {
      const fsList = await si.fsSize();
      return fsList
        .filter((fs) => fs.size > 0 && (mountPoints.length === 0 || mountPoints.includes(fs.mount)))
        .map((fs) => ({
          type: "disk",
          timestamp: unixSeconds(now),
          labels: { mount: fs.mount, device: fs.fs, fstype: fs.type },
          values: {
            total_bytes: fs.size,
            used_bytes: fs.used,
            free_bytes: fs.available,
            usage_percent: fs.use ?? 0,
          },
        }));
    },
  };
}
