import { readFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { packageRoot } from "../common/package-root.js";
import type { NodeRegistration } from "../common/types.js";

/** The installed package's version (package.json, found from src/ under tsx and from dist/src/ when built). */
export const DAEMON_VERSION: string = (() => {
  try {
    const pkg = JSON.parse(readFileSync(join(packageRoot(), "package.json"), "utf8")) as {
      version?: unknown;
    };
    return typeof pkg.version === "string" && pkg.version ? pkg.version : "unknown";
  } catch {
    return "unknown";
  }
})();

/** The first non-internal IPv4 address, else IPv6, else "". */
export function primaryIp(): string {
  const all = Object.values(os.networkInterfaces()).flat();
  const pick = (family: string) =>
    all.find((a) => a && !a.internal && a.family === family)?.address;
  return pick("IPv4") ?? pick("IPv6") ?? "";
}

/** What RegisterNode tells the manager about this machine and how this daemon runs. */
export function hostRegistration(
  nodeId: string,
  labels: Record<string, string> = {},
  run: { heartbeatIntervalMs?: number; ephemeral?: boolean } = {},
): NodeRegistration {
  return {
    ...(run.heartbeatIntervalMs
      ? { heartbeatIntervalSeconds: Math.max(1, Math.round(run.heartbeatIntervalMs / 1000)) }
      : {}),
    ...(run.ephemeral ? { ephemeral: true } : {}),
    nodeId,
    hostname: os.hostname(),
    ip: primaryIp(),
    os: os.platform(),
    arch: os.arch(),
    labels,
    daemonVersion: DAEMON_VERSION,
    agentVersion: `node-${process.versions.node}`,
  };
}
