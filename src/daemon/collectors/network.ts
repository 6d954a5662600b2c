import { type Collector, createSnapshots, round, unixSeconds } from "./collector.js";
import { type NetCounters, parseNetDev, ratePerSecond, readProc } from "./proc.js";

/** /proc/net/dev on Linux; elsewhere no counters (Node has none), so no network samples. */
async function readNetCounters(): Promise<Map<string, NetCounters>> {
  const text = await readProc("/proc/net/dev");
  return text === undefined ? new Map() : parseNetDev(text);
}

/**
 * network per interface: counters from /proc/net/dev (node-os-utils 2.0.5
 * returns 0 here), rates from the delta between two rounds.
 */
export function createNetworkCollector(interfaces: readonly string[] = []): Collector {
  const snapshot = createSnapshots(readNetCounters);
  return {
    type: "network",
    async collect(now) {
      const { prev, cur, seconds } = await snapshot();
      const out = [];
      for (const [iface, c] of cur) {
        if (interfaces.length > 0 && !interfaces.includes(iface)) continue;
        const p = prev.get(iface);
        const values: Record<string, number> = {
          rx_bytes: c.rxBytes,
          tx_bytes: c.txBytes,
          rx_packets: c.rxPackets,
          tx_packets: c.txPackets,
          rx_errors: c.rxErrors,
          tx_errors: c.txErrors,
          rx_dropped: c.rxDropped,
          tx_dropped: c.txDropped,
        };
        if (p) {
          const rates = {
            rx_bytes_per_second: ratePerSecond(p.rxBytes, c.rxBytes, seconds),
            tx_bytes_per_second: ratePerSecond(p.txBytes, c.txBytes, seconds),
            rx_packets_per_second: ratePerSecond(p.rxPackets, c.rxPackets, seconds),
            tx_packets_per_second: ratePerSecond(p.txPackets, c.txPackets, seconds),
          };
          for (const [k, v] of Object.entries(rates)) if (v !== undefined) values[k] = round(v);
        }
        out.push({
          type: "network",
          timestamp: unixSeconds(now),
          labels: { interface: iface },
          values,
        });
      }
      return out;
    },
  };
}
