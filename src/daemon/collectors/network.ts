import si from "systeminformation";
import { type Collector, unixSeconds } from "./collector.js";

/**
 * network per interface, from systeminformation's networkStats (/proc/net/dev
 * counters; node-os-utils 2.0.5 returns 0 here). Rates come from counter deltas
 * between calls, so the first round reports counters with zero rates.
 */
export function createNetworkCollector(interfaces: readonly string[] = []): Collector {
  return {
    type: "network",
    async collect(now) {
      const stats = await si.networkStats("*");
      return stats
        .filter((s) => interfaces.length === 0 || interfaces.includes(s.iface))
        .map((s) => ({
          type: "network",
          timestamp: unixSeconds(now),
          labels: { interface: s.iface },
          values: {
            rx_bytes: s.rx_bytes,
            tx_bytes: s.tx_bytes,
            rx_bytes_per_second: Math.max(0, s.rx_sec ?? 0),
            tx_bytes_per_second: Math.max(0, s.tx_sec ?? 0),
            rx_errors: s.rx_errors,
            tx_errors: s.tx_errors,
            rx_dropped: s.rx_dropped,
            tx_dropped: s.tx_dropped,
          },
        }));
    },
  };
}
