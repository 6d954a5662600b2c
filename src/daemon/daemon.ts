import { join } from "node:path";
import type { Logger } from "../common/logging.js";
import { createCollectors } from "./collectors/all.js";
import type { Collector } from "./collectors/collector.js";
import { createSelfCollector } from "./collectors/daemon-self.js";
import type { DaemonConfig } from "./config.js";
import { createHealth, type Health } from "./health.js";
import { hostRegistration } from "./host-info.js";
import { createLimitedLog } from "./log-limit.js";
import { runCollectLoop } from "./loops/collect.js";
import { createContact } from "./loops/contact.js";
import { runHeartbeatLoop } from "./loops/heartbeat.js";
import { createRegistration } from "./loops/register.js";
import { createReporter, runReportLoop } from "./loops/report.js";
import { createSampleClock, systemClock } from "./loops/sample-clock.js";
import { resolveNodeId } from "./node-id.js";
import { openSpool, type Spool } from "./spool/spool.js";
import { buildStatus, writeStatus } from "./status.js";
import { createManagerConnection } from "./transport/client.js";

export interface Daemon {
  start(): Promise<void>;
  /** Stops collecting, flushes what can be sent within `flushMs`, keeps the rest spooled. */
  stop(flushMs?: number): Promise<void>;
  readonly nodeId: string;
  readonly health: Health;
  readonly spool: Spool;
}

export interface CreateDaemonOptions {
  logger: Logger;
  /** Labels merged over config.labels (tests). */
  labels?: Record<string, string>;
  /** Wait after new data before sending, so one tick's collectors share a call. */
  lingerMs?: number;
  /** Jitter source of the register, heartbeat and report loops (tests pin it). */
  random?: () => number;
}

export const SHUTDOWN_FLUSH_MS = 3_000;
/** A client certificate expiring within this is warned about at start and at each renewal. */
export const CERT_EXPIRY_WARNING_SECONDS = 14 * 86_400;

/** Resolves when `work` settles or after `ms`, whichever is first (calling onTimeout then). */
async function waitAtMost(work: Promise<unknown>, ms: number, onTimeout: () => void) {
  let t: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((resolve) => {
    t = setTimeout(() => resolve(true), ms);
  });
  const finished = work.then(
    () => false,
    () => false,
  );
  if (await Promise.race([finished, timedOut])) onTimeout();
  clearTimeout(t);
}

const expiryText = (at: number | undefined) =>
  at === undefined ? "unknown" : new Date(at * 1000).toISOString();

/** The continuous daemon: collectors → spool → manager, plus heartbeat. main.ts and tests use this. */
export function createDaemon(config: Readonly<DaemonConfig>, opts: CreateDaemonOptions): Daemon {
  const logger = opts.logger;
  const log = createLimitedLog(logger);
  const nodeId = resolveNodeId(config.id, config.workDir);
  const health = createHealth(nodeId, config.manager.heartbeatIntervalMs);
  const loopsCtl = new AbortController();
  const callsCtl = new AbortController();
  const running: Promise<void>[] = [];
  let spool: Spool | undefined;
  let statusTimer: NodeJS.Timeout | undefined;
  let reportLoop: Promise<void> | undefined;
  let flush: ((signal: AbortSignal) => Promise<unknown>) | undefined;
  let closeConnection = () => {};

  const warnCertExpiry = (at: number | undefined) => {
    if (at === undefined || at - Date.now() / 1000 > CERT_EXPIRY_WARNING_SECONDS) return;
    logger.warn(
      { certExpires: expiryText(at), certFile: config.manager.tls?.certFile },
      at <= Date.now() / 1000
        ? "the client certificate has expired"
        : "the client certificate expires within 14 days",
    );
  };

  const saveStatus = async () => {
    if (!spool) return;
    try {
      await writeStatus(config.workDir, buildStatus(health, spool.stats()));
    } catch (err) {
      log("warn", "status", { err: (err as Error).message }, "cannot write status.json");
    }
  };

  return {
    nodeId,
    health,
    get spool() {
      if (!spool) throw new Error("daemon not started");
      return spool;
    },
    async start() {
      const s = await openSpool({
        dir: join(config.workDir, "spool"),
        maxBytes: config.spoolMaxBytes,
        onDrop: (info) =>
          logger.error(
            { batches: info.seqs.length, samples: info.samples, reason: info.reason },
            "spool dropped batches; the gap is reported as type=daemon",
          ),
      });
      spool = s;
      const backlog = s.stats();
      logger.info(
        {
          nodeId,
          manager: config.manager.address,
          tls: Boolean(config.manager.tls),
          backlog: backlog.batches,
        },
        "fleet-daemon starting",
      );
      const connection = createManagerConnection({
        address: config.manager.address,
        timeoutMs: config.manager.timeoutMs,
        tls: config.manager.tls,
        tokenFile: config.manager.tokenFile || undefined,
        tlsReloadIntervalMs: config.manager.tlsReloadIntervalMs,
        onTlsReload: (event) => {
          if (event.result === "refused") {
            logger.error(
              { err: event.reason },
              "renewed TLS files refused; keeping the certificate in force",
            );
            return;
          }
          health.tlsCertExpiresAt = event.certExpiresAt ?? 0;
          logger.info(
            { certExpires: expiryText(event.certExpiresAt) },
            "TLS files renewed; new calls use a new connection",
          );
          warnCertExpiry(event.certExpiresAt);
        },
        retry: {
          onRetry: ({ code, delayMs }) => {
            health.retries++;
            logger.debug({ code, delayMs }, "retrying call");
          },
        },
      });
      closeConnection = () => connection.close();
      health.tlsCertExpiresAt = connection.certExpiresAt ?? 0;
      warnCertExpiry(connection.certExpiresAt);
      const { client } = connection;
      // One for all loops: a success on any of them ends every loop's backoff.
      const contact = createContact();
      const registration = createRegistration({
        client,
        // The configured labels on every registration, so a re-registration restores them.
        info: hostRegistration(
          nodeId,
          { ...config.labels, ...opts.labels },
          { heartbeatIntervalMs: config.manager.heartbeatIntervalMs, ephemeral: config.ephemeral },
        ),
        health,
        reconnectIntervalMs: config.manager.reconnectIntervalMs,
        signal: loopsCtl.signal,
        log,
        onRegistered: () => logger.info({ nodeId }, "registered with the manager"),
        explain: (err) => connection.diagnose(err),
        contact,
        random: opts.random,
      });
      const reporter = createReporter({ client, nodeId, spool: s, health, logger, log, contact });
      flush = (signal) => reporter.drain(signal);

      const signal = loopsCtl.signal;
      // One sample clock for all collectors, so they agree on when the system clock stepped.
      const sampleClock = createSampleClock(systemClock, {
        onStep: ({ offsetMs, adopted }) => {
          if (!adopted) health.clockSteps++;
          logger.warn(
            { offsetSeconds: Math.round(offsetMs / 1000), adopted },
            adopted
              ? "the system clock step held for a minute: samples follow the system clock again"
              : "the system clock stepped; samples keep monotonic time so no second is reused or skipped",
          );
        },
      });
      const collect = (collector: Collector, intervalMs: number) =>
        runCollectLoop({
          collector,
          intervalMs,
          spool: s,
          signal,
          logger,
          log,
          sampleClock,
          onMissed: (m) => {
            health.ticksMissed += m.ticks;
          },
          onLate: (rounds) => {
            health.ticksLate += rounds;
          },
        });
      for (const { collector, intervalMs } of createCollectors(config.collectors)) {
        running.push(collect(collector, intervalMs));
      }
      running.push(
        collect(createSelfCollector(health, s), Math.max(1000, config.manager.heartbeatIntervalMs)),
      );
      running.push(
        runHeartbeatLoop({
          client,
          nodeId,
          registration,
          health,
          signal,
          logger,
          log,
          contact,
          random: opts.random,
        }),
      );
      reportLoop = runReportLoop({
        reporter,
        spool: s,
        registration,
        signal,
        callSignal: callsCtl.signal,
        reconnectIntervalMs: config.manager.reconnectIntervalMs,
        lingerMs: opts.lingerMs ?? 200,
        log,
        contact,
        random: opts.random,
      });
      statusTimer = setInterval(() => void saveStatus(), 2_000);
      statusTimer.unref();
      await saveStatus();
    },
    async stop(flushMs = SHUTDOWN_FLUSH_MS) {
      const deadline = setTimeout(() => callsCtl.abort(), flushMs);
      loopsCtl.abort();
      if (statusTimer) clearInterval(statusTimer);
      // Loops end at the abort; a collector stuck in I/O (a hung NFS `df`) is not waited for.
      await waitAtMost(Promise.all([...running, reportLoop]), flushMs, () =>
        logger.warn({ waitedMs: flushMs }, "a loop did not stop in time; shutting down without it"),
      );
      if (flush && health.registered && !callsCtl.signal.aborted) {
        const outcome = await flush(callsCtl.signal);
        logger.info({ outcome, left: spool?.stats().batches ?? 0 }, "shutdown flush done");
      }
      clearTimeout(deadline);
      closeConnection();
      await saveStatus();
    },
  };
}
