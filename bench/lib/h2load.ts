import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { processCpuMs } from "./proc.js";
import { quantile, Samples } from "./stats.js";

export interface H2loadResult {
  reqPerSec: number;
  requests: number;
  /** Requests whose HTTP status was not 2xx or that failed at the stream level. */
  failed: number;
  p50Ms: number;
  p99Ms: number;
  /** Cores the measured server used during the run (1 = one core). */
  serverCores: number;
  /** Cores h2load itself used. */
  h2loadCores: number;
}

/** True when h2load (Debian nghttp2-client) is on PATH. */
export function haveH2load(): Promise<boolean> {
  return new Promise((resolve) => {
    execFile("h2load", ["--version"], (err) => resolve(!err));
  });
}

/**
 * Raw gRPC unary rate with h2load: POSTs one pre-framed protobuf body with
 * gRPC headers over `clients` connections × `streams` concurrent streams for
 * `seconds`. h2load only sees HTTP statuses; callers check grpc-status separately.
 */
export async function runH2load(opts: {
  url: string;
  body: Buffer;
  seconds: number;
  warmupSeconds?: number;
  clients?: number;
  streams?: number;
  serverPid: number;
}): Promise<H2loadResult> {
  const dir = mkdtempSync(join(tmpdir(), "fleet-h2load-"));
  const bodyFile = join(dir, "body.bin");
  const logFile = join(dir, "log.tsv");
  writeFileSync(bodyFile, opts.body);
  const args = [
    "-c",
    String(opts.clients ?? 50),
    "-m",
    String(opts.streams ?? 10),
    "-t",
    "1",
    "-D",
    String(opts.seconds),
    `--warm-up-time=${opts.warmupSeconds ?? 1}`,
    "-d",
    bodyFile,
    "-H",
    "content-type: application/grpc",
    "-H",
    "te: trailers",
    `--log-file=${logFile}`,
    opts.url,
  ];
  const serverCpu0 = processCpuMs(opts.serverPid);
  const t0 = performance.now();
  let h2Cpu = 0;
  const stdout = await new Promise<string>((resolve, reject) => {
    const child = execFile(
      "h2load",
      args,
      { maxBuffer: 16 * 1024 * 1024, timeout: (opts.seconds + 60) * 1000 },
      (err, out, errOut) =>
        err ? reject(new Error(`h2load: ${err.message}\n${errOut}`)) : resolve(out),
    );
    const pid = child.pid ?? 0;
    // h2load's CPU can only be read while it runs: sample it until it exits.
    const poll = setInterval(() => {
      try {
        h2Cpu = processCpuMs(pid);
      } catch {
        clearInterval(poll);
      }
    }, 100);
    child.once("exit", () => clearInterval(poll));
  });
  const elapsed = performance.now() - t0;
  const serverCores = (processCpuMs(opts.serverPid) - serverCpu0) / elapsed;

  const rate = /finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(stdout);
  const lat = new Samples();
  let logged = 0;
  let non2xx = 0;
  try {
    for (const line of readFileSync(logFile, "utf8").split("\n")) {
      const cols = line.split("\t");
      if (cols.length < 3) continue;
      logged++;
      // Status -1/0 marks a stream cut by the end of the run (or warm-up), not an answer.
      if (Number(cols[1]) >= 300) non2xx++;
      lat.push(Number(cols[2]) / 1000);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // With -D, streams still open when time is up count as "failed": only the
  // per-request log tells real failures (non-2xx) apart.
  return {
    reqPerSec: Number(rate?.[1] ?? 0),
    requests: logged,
    failed: non2xx,
    p50Ms: quantile(lat.values(), 0.5),
    p99Ms: quantile(lat.values(), 0.99),
    serverCores,
    h2loadCores: h2Cpu / elapsed,
  };
}
