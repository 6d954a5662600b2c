import os from "node:os";
import type { NodeRegistration } from "../common/types.js";

export const DAEMON_VERSION = "0.1.0";

/** The first non-internal IPv4 address, else IPv6, else "". */
export function primaryIp(): string {
  const all = Object.values(os.networkInterfaces()).flat();
  const pick = (family: string) =>
    all.find((a) => a && !a.internal && a.family === family)?.address;
  return pick("IPv4") ?? pick("IPv6") ?? "";
}

/** What RegisterNode tells the manager about this machine. */
export function hostRegistration(
  nodeId: string,
  labels: Record<string, string> = {},
): NodeRegistration {
  return {
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
