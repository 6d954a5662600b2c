import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { pino } from "pino";
import type { Logger } from "../../src/common/logging.js";
import { DAEMON_DEFAULTS, type DaemonConfig } from "../../src/daemon/config.js";

export const tempDir = (prefix = "fleet-daemon-") => mkdtempSync(join(tmpdir(), prefix));

/** Daemon config for tests: 1 s collectors, fast reconnects, a temp work_dir. */
export function testDaemonConfig(
  address: string,
  id: string,
  overrides: Partial<DaemonConfig> = {},
): DaemonConfig {
  const every = 1_000;
  return {
    ...structuredClone(DAEMON_DEFAULTS),
    id,
    workDir: tempDir(),
    logLevel: "debug",
    manager: {
      address,
      tls: undefined,
      tlsReloadIntervalMs: 200,
      tokenFile: "",
      heartbeatIntervalMs: 1_000,
      reconnectIntervalMs: 200,
      timeoutMs: 2_000,
    },
    collectors: {
      cpu: { enabled: true, intervalMs: every },
      memory: { enabled: true, intervalMs: every },
      disk: { enabled: true, intervalMs: every, mountPoints: [] },
      network: { enabled: true, intervalMs: every, interfaces: ["lo"] },
    },
    ...overrides,
  };
}

export interface LogEvent {
  msg: string;
  level: number;
  [k: string]: unknown;
}

/** A debug logger that keeps every event in memory (and echoes with TEST_LOG_LEVEL=debug). */
export function memoryLogger(): { logger: Logger; events: LogEvent[] } {
  const events: LogEvent[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const line of String(chunk).split("\n")) {
        if (!line) continue;
        events.push(JSON.parse(line) as LogEvent);
        if (process.env.TEST_LOG_LEVEL === "debug") process.stderr.write(`${line}\n`);
      }
      cb();
    },
  });
  return { logger: pino({ level: "debug" }, stream), events };
}

/** Samples the daemon said it spooled (`spooled` debug events). */
export const spooledSamples = (events: readonly LogEvent[]) =>
  events.filter((e) => e.msg === "spooled").reduce((n, e) => n + Number(e.samples), 0);
