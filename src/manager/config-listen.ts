/**
 * The listen policy, checked by loadManagerConfig so its problems are listed
 * in the one ConfigError with every other: TLS files come as a set and are
 * readable, and nothing listens beyond loopback unauthenticated.
 */
import { fmtAddress } from "../common/config/parsers.js";
import type { ManagerConfig } from "./config.js";

/** The TLS files come as a set (a half-set is never a silent plaintext fallback) and must be readable now. */
export function tlsProblems(
  tls: ManagerConfig["tls"],
  readFile: (path: string) => string,
): string[] {
  const out: string[] = [];
  if (Boolean(tls.certFile) !== Boolean(tls.keyFile)) {
    out.push(
      `tls: cert (FLEET_TLS_CERT) and key (FLEET_TLS_KEY) must be set together, got only ${tls.certFile ? "cert" : "key"}`,
    );
  }
  if (tls.clientCaFile && !(tls.certFile && tls.keyFile)) {
    out.push("tls.client_ca (FLEET_TLS_CLIENT_CA): needs tls.cert and tls.key as well");
  }
  for (const [name, path] of [
    ["tls.cert", tls.certFile],
    ["tls.key", tls.keyFile],
    ["tls.client_ca", tls.clientCaFile],
  ] as const) {
    if (!path) continue;
    try {
      readFile(path);
    } catch (err) {
      out.push(
        `${name}: cannot read "${path}" (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      );
    }
  }
  return out;
}

const isLoopback = (host: string) =>
  host === "localhost" || host === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);

/**
 * Secure by default (DESIGN §3): a port listening beyond loopback needs
 * authentication for everything it serves. FleetService is on both ports, so
 * both need FLEET_API_TOKEN; the gRPC port also needs mTLS or
 * FLEET_ENROLL_TOKEN for ManagerService. One line naming what is missing, or
 * undefined when the configuration is safe or `--insecure` was given.
 */
export function insecureListenerProblem(config: Readonly<ManagerConfig>): string | undefined {
  if (config.insecure) return undefined;
  const missing: string[] = [];
  const mtls = Boolean(config.tls.certFile && config.tls.keyFile && config.tls.clientCaFile);
  for (const [port, addr] of [
    ["gRPC", config.grpcAddr],
    ["HTTP", config.httpAddr],
  ] as const) {
    if (isLoopback(addr.host)) continue;
    const needs: string[] = [];
    if (port === "gRPC" && !mtls && !config.auth.enrollToken) {
      needs.push("FLEET_TLS_CERT/KEY/CLIENT_CA or FLEET_ENROLL_TOKEN");
    }
    if (!config.auth.apiToken) needs.push("FLEET_API_TOKEN");
    if (needs.length) missing.push(`${port} ${fmtAddress(addr)} needs ${needs.join(" and ")}`);
  }
  return missing.length
    ? `refusing to listen beyond loopback without authentication: ${missing.join("; ")} (or pass --insecure)`
    : undefined;
}
