import { statfs } from "node:fs/promises";
import { readProc } from "./proc.js";

/** One mounted filesystem with df's numbers (bytes). */
export interface MountUsage {
  device: string;
  mount: string;
  fstype: string;
  total: number;
  used: number;
  /** Free to unprivileged users (df's "Available"). */
  available: number;
}

export interface MountEntry {
  /** major:minor, so bind mounts of one filesystem count once, as in df. */
  dev: string;
  device: string;
  mount: string;
  fstype: string;
}

/** Octal escapes of /proc/self/mountinfo (`\040` space, `\011` tab, `\012` newline, `\134` backslash). */
const unescapeOctal = (s: string) =>
  s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));

/** Parses /proc/self/mountinfo (proc(5)): `id parent maj:min root mount opts [optional…] - fstype source superopts`. */
export function parseMountinfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split("\n")) {
    const f = line.split(" ");
    const sep = f.indexOf("-", 6);
    if (sep < 0 || f.length < sep + 3) continue;
    out.push({
      dev: f[2] as string,
      mount: unescapeOctal(f[4] as string),
      fstype: f[sep + 1] as string,
      device: unescapeOctal(f[sep + 2] as string),
    });
  }
  return out;
}

/**
 * Memory-backed types, skipped unless the source is a path (as the earlier
 * systeminformation reader did): they are not disks an operator fills.
 */
const VIRTUAL = /tmpfs|ramfs|cramfs|rootfs|unionfs|initrd|devfs|udev|appimaged/i;

/**
 * The mounts df would list as disks: the top mount per mount point (an
 * over-mount hides what is under it), one mount per device, preferring a
 * device path and the shortest mount point (df's rule), real disks only.
 */
export function diskMounts(entries: readonly MountEntry[]): MountEntry[] {
  const byMount = new Map<string, MountEntry>();
  for (const e of entries) {
    byMount.delete(e.mount); // re-insert so order follows the later mount
    byMount.set(e.mount, e);
  }
  const byDev = new Map<string, MountEntry>();
  for (const e of byMount.values()) {
    // squashfs images (snaps) are always 100 % full by construction.
    if (e.fstype === "squashfs") continue;
    if (!e.device.includes("/") && e.mount !== "/" && VIRTUAL.test(e.fstype)) continue;
    const seen = byDev.get(e.dev);
    const better =
      !seen ||
      (e.device.includes("/") && !seen.device.includes("/")) ||
      seen.mount.length > e.mount.length;
    if (better) byDev.set(e.dev, e);
  }
  return [...byDev.values()];
}

/**
 * Sizes of the disk mounts from statfs(2), computed as df computes them.
 * Without /proc (not Linux) only "/" is reported.
 */
export async function readMountUsage(): Promise<MountUsage[]> {
  const text = await readProc("/proc/self/mountinfo");
  const mounts = text
    ? diskMounts(parseMountinfo(text))
    : [{ dev: "", device: "", mount: "/", fstype: "" }];
  const out: MountUsage[] = [];
  for (const m of mounts) {
    // A mount that vanished or is not ours to read is skipped, as df skips it with a warning.
    const s = await statfs(m.mount).catch(() => undefined);
    if (!s || s.blocks <= 0) continue; // pseudo filesystems (proc, cgroup, …) have no blocks
    out.push({
      device: m.device,
      mount: m.mount,
      fstype: m.fstype,
      total: s.blocks * s.bsize,
      used: (s.blocks - s.bfree) * s.bsize,
      available: s.bavail * s.bsize,
    });
  }
  return out;
}
