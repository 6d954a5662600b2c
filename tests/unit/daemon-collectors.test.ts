import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import net from "node:net";
import { describe, expect, it } from "vitest";
import { cpuPercents, createCpuCollector } from "../../src/daemon/collectors/cpu.js";
import { createDiskCollector } from "../../src/daemon/collectors/disk.js";
import { createMemoryCollector, memoryValues } from "../../src/daemon/collectors/memory.js";
import { diskMounts, parseMountinfo } from "../../src/daemon/collectors/mounts.js";
import { createNetworkCollector } from "../../src/daemon/collectors/network.js";
import {
  parseDiskstats,
  parseMeminfo,
  parseNetDev,
  parseProcStat,
} from "../../src/daemon/collectors/proc.js";

const linux = process.platform === "linux";

async function sendOverLoopback(bytes: number): Promise<void> {
  const server = net.createServer((sock) => sock.resume());
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve, reject) => {
    const sock = net.connect(port, "127.0.0.1", () => sock.end(Buffer.alloc(bytes)));
    sock.on("close", () => resolve());
    sock.on("error", reject);
  });
  await new Promise((r) => server.close(r));
}
const now = new Date();
const relClose = (actual: number, expected: number, rel: number, abs = 0) =>
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(Math.max(abs, Math.abs(expected) * rel));

describe("collector parsing", () => {
  it("parses /proc/stat and computes interval percentages", () => {
    const a = parseProcStat("cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 1 2 3 4\n");
    const b = parseProcStat("cpu  160 0 70 900 70 0 0 0 0 0\n");
    expect(cpuPercents(a, b)).toMatchObject({
      usage_percent: 40,
      user_percent: 30,
      system_percent: 10,
      idle_percent: 50,
      iowait_percent: 10,
    });
  });

  it("parses /proc/meminfo, used = total − available", () => {
    const info = parseMeminfo(
      "MemTotal:       1000 kB\nMemFree:         200 kB\nMemAvailable:    600 kB\nBuffers: 10 kB\nCached: 100 kB\nSwapTotal: 400 kB\nSwapFree: 100 kB\n",
    );
    expect(memoryValues(info)).toMatchObject({
      total_bytes: 1_024_000,
      available_bytes: 614_400,
      used_bytes: 409_600,
      usage_percent: 40,
      swap_used_bytes: 307_200,
      swap_usage_percent: 75,
    });
  });

  it("parses /proc/net/dev and /proc/diskstats", () => {
    const net = parseNetDev(
      "Inter-|   Receive\n face |bytes packets\n  eth0: 783 18 1 2 0 0 0 0 1206 11 3 4 0 0 0 0\n",
    );
    expect(net.get("eth0")).toEqual({
      rxBytes: 783,
      rxPackets: 18,
      rxErrors: 1,
      rxDropped: 2,
      txBytes: 1206,
      txPackets: 11,
      txErrors: 3,
      txDropped: 4,
    });
    const disks = parseDiskstats(" 253 0 vda 100 0 2048 0 50 0 4096 0 0 0 0\n");
    expect(disks.get("vda")).toEqual({ readBytes: 2048 * 512, writeBytes: 4096 * 512 });
  });

  it("parses /proc/self/mountinfo and keeps the mounts df lists as disks", () => {
    const entries = parseMountinfo(
      [
        "22 27 0:21 / /proc rw,relatime - proc proc rw",
        "27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw",
        "25 27 0:23 / /dev/shm rw - tmpfs tmpfs rw",
        "40 27 254:16 / /srv/my\\040data rw shared:7 master:2 - xfs /dev/vdb rw",
        // A bind mount of the same filesystem counts once (the shorter mount point wins).
        "41 27 254:16 /sub /srv/my\\040data/sub rw - xfs /dev/vdb rw",
        // Over-mounted: only the later mount on /var is visible.
        "42 27 254:32 / /var rw - ext4 /dev/vdc rw",
        "43 27 254:48 / /var rw - ext4 /dev/vdd rw",
        "44 27 0:50 / /var/lib/docker/x rw - overlay overlay rw",
        "45 27 7:0 / /snap/core/1 ro - squashfs /dev/loop0 ro",
      ].join("\n"),
    );
    expect(entries[3]).toEqual({
      dev: "254:16",
      mount: "/srv/my data",
      fstype: "xfs",
      device: "/dev/vdb",
    });
    expect(diskMounts(entries).map((e) => `${e.device} ${e.mount}`)).toEqual([
      "proc /proc",
      "/dev/vda /",
      "/dev/vdb /srv/my data",
      "/dev/vdd /var",
      "overlay /var/lib/docker/x",
    ]);
  });
});

describe.runIf(linux)("collectors against the OS's own view", () => {
  it("cpu: percentages add up, load matches /proc/loadavg, cores match nproc", async () => {
    const [s] = await createCpuCollector().collect(now);
    const v = s?.values ?? {};
    const sum = (v.user_percent ?? 0) + (v.system_percent ?? 0) + (v.idle_percent ?? 0);
    relClose(sum + (v.iowait_percent ?? 0) + (v.steal_percent ?? 0), 100, 0, 0.1);
    relClose(v.usage_percent ?? -1, 100 - (v.idle_percent ?? 0) - (v.iowait_percent ?? 0), 0, 0.02);
    const [l1, l5, l15] = readFileSync("/proc/loadavg", "utf8").split(" ").map(Number);
    relClose(v.load1 ?? -1, l1 ?? 0, 0, 0.5);
    relClose(v.load5 ?? -1, l5 ?? 0, 0, 0.3);
    relClose(v.load15 ?? -1, l15 ?? 0, 0, 0.2);
    expect(v.cores).toBe(Number(execFileSync("nproc", ["--all"]).toString()));
  });

  it("memory matches /proc/meminfo", async () => {
    const [s] = await createMemoryCollector().collect(now);
    const info = readFileSync("/proc/meminfo", "utf8");
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, "m").exec(info)?.[1]) * 1024;
    const v = s?.values ?? {};
    expect(v.total_bytes).toBe(kb("MemTotal"));
    expect(v.swap_total_bytes).toBe(kb("SwapTotal"));
    // Memory moves between the two reads; 2 % of total is plenty.
    relClose(v.available_bytes ?? -1, kb("MemAvailable"), 0, kb("MemTotal") * 0.02);
    relClose(v.free_bytes ?? -1, kb("MemFree"), 0, kb("MemTotal") * 0.02);
    relClose(v.used_bytes ?? -1, kb("MemTotal") - kb("MemAvailable"), 0, kb("MemTotal") * 0.02);
  });

  it("disk matches df -B1 per mount, with labels and I/O rates from /proc/diskstats", async () => {
    const samples = await createDiskCollector().collect(now);
    expect(samples.length).toBeGreaterThan(0);
    const df = new Map(
      execFileSync("df", ["-B1", "-P", "-T"])
        .toString()
        .trim()
        .split("\n")
        .slice(1)
        .map((l) => l.split(/\s+/))
        .map((f) => [f[6], f] as const),
    );
    const diskstats = parseDiskstats(readFileSync("/proc/diskstats", "utf8"));
    for (const s of samples) {
      const row = df.get(s.labels.mount);
      expect(row, `df has ${s.labels.mount}`).toBeDefined();
      const [device, fstype, total, used, avail, capacity] = row as string[];
      expect(s.labels).toMatchObject({ device, fstype });
      expect(s.values.total_bytes).toBe(Number(total));
      // Files change between our statfs and df's: 0.5 % or 64 MiB.
      relClose(s.values.used_bytes ?? -1, Number(used), 0.005, 64 * 2 ** 20);
      relClose(s.values.free_bytes ?? -1, Number(avail), 0.005, 64 * 2 ** 20);
      relClose(s.values.usage_percent ?? -1, Number(capacity?.replace("%", "")), 0, 1);
      const dev = s.labels.device?.replace("/dev/", "") ?? "";
      if (diskstats.has(dev)) {
        expect(s.values.read_bytes_per_second).toBeGreaterThanOrEqual(0);
        expect(s.values.write_bytes_per_second).toBeGreaterThanOrEqual(0);
      }
    }
  });

  it("disk reports every block-device mount df lists", async () => {
    const mounts = new Set((await createDiskCollector().collect(now)).map((s) => s.labels.mount));
    const dfDisks = execFileSync("df", ["-B1", "-P", "-T"])
      .toString()
      .trim()
      .split("\n")
      .slice(1)
      .map((l) => l.split(/\s+/))
      .filter((f) => f[0]?.startsWith("/dev/") && f[1] !== "squashfs")
      .map((f) => f[6]);
    expect(dfDisks.length).toBeGreaterThan(0);
    for (const m of dfDisks) expect(mounts.has(m ?? ""), `collector has ${m}`).toBe(true);
  });

  it("disk honours mount_points", async () => {
    const only = await createDiskCollector(["/"]).collect(now);
    expect(only.map((s) => s.labels.mount)).toEqual(["/"]);
  });

  it("network matches /proc/net/dev per interface, rates from deltas", async () => {
    const c = createNetworkCollector();
    const first = await c.collect(now);
    const before = parseNetDev(readFileSync("/proc/net/dev", "utf8"));
    expect(first.map((s) => s.labels.interface).sort()).toEqual([...before.keys()].sort());
    for (const s of first) {
      const os = before.get(s.labels.interface ?? "");
      // Counters only grow between our read and the test's read.
      expect(s.values.rx_bytes).toBeLessThanOrEqual(os?.rxBytes ?? -1);
      relClose(s.values.rx_bytes ?? -1, os?.rxBytes ?? 0, 0.01, 1 << 20);
      relClose(s.values.tx_packets ?? -1, os?.txPackets ?? 0, 0.01, 1000);
      expect(s.values.rx_errors).toBe(os?.rxErrors);
      expect(s.values.tx_dropped).toBe(os?.txDropped);
      expect(s.values.rx_bytes_per_second).toBeGreaterThanOrEqual(0);
      expect(s.values.tx_packets_per_second).toBeGreaterThanOrEqual(0);
    }
    // 4 MiB over lo between two rounds shows up as a rate of about that much.
    const t1 = performance.now();
    const loBefore = parseNetDev(readFileSync("/proc/net/dev", "utf8")).get("lo");
    await sendOverLoopback(4 << 20);
    const second = await c.collect(new Date());
    const seconds = (performance.now() - t1) / 1000;
    const loAfter = parseNetDev(readFileSync("/proc/net/dev", "utf8")).get("lo");
    const lo = second.find((s) => s.labels.interface === "lo");
    const moved = (lo?.values.rx_bytes_per_second ?? 0) * seconds;
    expect(moved).toBeGreaterThan(0.8 * (4 << 20));
    expect(moved).toBeLessThan(1.5 * ((loAfter?.rxBytes ?? 0) - (loBefore?.rxBytes ?? 0)));
    expect(lo?.values.rx_packets_per_second).toBeGreaterThan(0);
  });

  it("network honours interfaces", async () => {
    const only = await createNetworkCollector(["lo"]).collect(now);
    expect(only.map((s) => s.labels.interface)).toEqual(["lo"]);
  });
});
