import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { isIP } from "node:net";
import { join } from "node:path";
import { argValue } from "../common/config-load.js";

export interface CertsOptions {
  outDir: string;
  /** One client certificate per node: SAN URI spiffe://fleet/node/<id> and CN=<id>. */
  nodes: readonly string[];
  /** Server certificate SANs: DNS names and IP addresses. */
  hosts: readonly string[];
  days: number;
}

const NODE_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const HOST = /^[A-Za-z0-9.-]{1,253}$/;

/**
 * Writes a CA (reused when DIR already has ca.pem and ca.key, so nodes can be
 * added later), a server certificate with the given SANs, and one client
 * certificate per node, all P-256, with the `openssl` command. Keys are 0600.
 * Returns the files written.
 */
export function writeCertificates(opts: CertsOptions): string[] {
  mkdirSync(opts.outDir, { recursive: true, mode: 0o700 });
  const dir = opts.outDir;
  const ssl = (...args: string[]) => {
    try {
      // umask 077 in the child: openssl creates every key 0600 from its first byte,
      // never readable by others in between (the chmod below is for reused files).
      execFileSync("sh", ["-c", 'umask 077 && exec openssl "$@"', "openssl", ...args], {
        cwd: dir,
        stdio: "pipe",
      });
    } catch (err) {
      const e = err as NodeJS.ErrnoException & { stderr?: Buffer; status?: number };
      if (e.code === "ENOENT" || e.status === 127)
        throw new Error("the openssl command is not installed", { cause: err });
      throw new Error(`openssl ${args[0]} failed: ${e.stderr?.toString().trim() ?? e.message}`, {
        cause: err,
      });
    }
  };
  const written: string[] = [];
  const days = String(opts.days);

  if (!(existsSync(join(dir, "ca.pem")) && existsSync(join(dir, "ca.key")))) {
    ssl(
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-days",
      String(opts.days * 10),
      "-subj",
      "/CN=fleet CA",
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
      "-keyout",
      "ca.key",
      "-out",
      "ca.pem",
    );
    chmodSync(join(dir, "ca.key"), 0o600);
    chmodSync(join(dir, "ca.pem"), 0o644);
    written.push("ca.pem", "ca.key");
  }

  const leaf = (name: string, cn: string, ext: string) => {
    ssl(
      "req",
      "-new",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-subj",
      `/CN=${cn}`,
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.csr`,
    );
    writeFileSync(join(dir, `${name}.ext`), ext);
    ssl(
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-days",
      days,
      "-extfile",
      `${name}.ext`,
      "-out",
      `${name}.pem`,
    );
    rmSync(join(dir, `${name}.csr`));
    rmSync(join(dir, `${name}.ext`));
    chmodSync(join(dir, `${name}.key`), 0o600);
    chmodSync(join(dir, `${name}.pem`), 0o644);
    written.push(`${name}.pem`, `${name}.key`);
  };

  const sans = opts.hosts.map((h) => (isIP(h) ? `IP:${h}` : `DNS:${h}`)).join(",");
  leaf(
    "server",
    opts.hosts[0] ?? "fleet-manager",
    `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=${sans}\n`,
  );
  for (const node of opts.nodes) {
    leaf(
      `node-${node}`,
      node,
      `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\nsubjectAltName=URI:spiffe://fleet/node/${node}\n`,
    );
  }
  return written;
}

const CERTS_USAGE = `usage: fleet-manager certs --out DIR --nodes a,b,... [--hosts localhost,127.0.0.1,::1] [--days 365]

Writes DIR/ca.pem, ca.key (kept and reused when present), server.pem, server.key
(SANs from --hosts) and node-<id>.pem, node-<id>.key per node (SAN URI
spiffe://fleet/node/<id>, CN=<id>). Manager: FLEET_TLS_CERT=DIR/server.pem
FLEET_TLS_KEY=DIR/server.key FLEET_TLS_CLIENT_CA=DIR/ca.pem. Daemon:
manager.tls { cert_file: node-<id>.pem, key_file: node-<id>.key, ca_file: ca.pem }.`;

/** `fleet-manager certs …`: exit code 0, or 2 for usage errors, 1 when openssl fails. */
export function runCertsCommand(argv: readonly string[]): number {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(`${CERTS_USAGE}\n`);
    return 0;
  }
  const list = (v: string | undefined) =>
    (v ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
  const outDir = argValue(argv, "out");
  const nodes = list(argValue(argv, "nodes"));
  const hosts = list(argValue(argv, "hosts") ?? "localhost,127.0.0.1,::1");
  const days = Number(argValue(argv, "days") ?? "365");
  const problems: string[] = [];
  if (!outDir) problems.push("--out: required");
  const badNodes = nodes.filter((n) => !NODE_ID.test(n));
  if (badNodes.length)
    problems.push(`--nodes: not node ids ([A-Za-z0-9._:-]{1,128}): ${badNodes.join(", ")}`);
  const badHosts = hosts.filter((h) => !isIP(h) && !HOST.test(h));
  if (badHosts.length) problems.push(`--hosts: not host names or IPs: ${badHosts.join(", ")}`);
  if (!Number.isInteger(days) || days < 1 || days > 3650)
    problems.push("--days: an integer from 1 to 3650");
  if (problems.length) {
    process.stderr.write(`fleet-manager certs: ${problems.join("; ")}\n${CERTS_USAGE}\n`);
    return 2;
  }
  try {
    const written = writeCertificates({ outDir: outDir as string, nodes, hosts, days });
    process.stdout.write(`wrote ${written.map((f) => join(outDir as string, f)).join(" ")}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`fleet-manager certs: ${(err as Error).message}\n`);
    return 1;
  }
}
