import type { Logger } from "../../common/logging.js";
import type { DatabaseHandle } from "../db/client.js";
import {
  countByStatus,
  countSilent,
  type ForgetRule,
  forgetGoneNodes,
  markHeardOnline,
  markSilentOffline,
  type Transition,
  updateFlapping,
} from "../db/queries/liveness.js";
import type { Telemetry } from "../telemetry.js";
import type { LeaderLease } from "./leader-lease.js";
import type { Pacing } from "./pacing.js";

/** The leader_leases row of the sweeper: one replica at a time sweeps. */
export const SWEEPER_LEASE = "liveness-sweeper";

export interface LivenessOptions extends ForgetRule {
  /** 0: graceMultiplier × the node's own interval (services/pacing.ts). */
  gracePeriodSeconds: number;
  graceMultiplier: number;
  sweepIntervalMs: number;
  massMissFraction: number;
  massMissMinNodes: number;
  flapWindowSeconds: number;
  flapEnterTransitions: number;
  flapExitTransitions: number;
}

export type SweepOutcome = "swept" | "held" | "restart_grace" | "not_leader";

export interface SweepResult {
  outcome: SweepOutcome;
  transitions: Transition[];
}

/**
 * Online/offline from last_seen and a grace period, written as node events.
 * Every replica counts nodes (for pacing and /metrics); only the holder of the
 * sweeper's leader lease sweeps, so replicas on one database agree. Each node
 * has its own grace (pacing.ts). Guards: no node goes offline before its own
 * grace, plus the longest pushback this process hands out, has passed since
 * this process started (its heartbeats were not being received, then shed),
 * and when a large share of the fleet goes silent at once the manager suspects
 * itself and holds offline transitions.
 */
export function createLiveness(deps: {
  handle: DatabaseHandle;
  pacing: Pacing;
  telemetry: Telemetry;
  logger: Logger;
  options: LivenessOptions;
  /** Renewed before every sweep; see leader-lease.ts. */
  lease: LeaderLease;
  /** Before a sweep, so heartbeats received here are in the database. */
  flushHeartbeats: () => Promise<void>;
  /** The longest grpc-retry-pushback-ms a shed answer carries (pushback_min + pushback_spread). */
  restartPushbackMs?: number;
}) {
  const { handle, options, logger, telemetry } = deps;
  const startedAt = Date.now();
  let timer: NodeJS.Timeout | undefined;
  let ticking: Promise<void> = Promise.resolve();
  let counts: Record<string, number> = {};
  let stopped = false;
  let suspect = false;
  telemetry.setNodeCountSource(() => counts);

  /** The grace of a node that neither says its interval nor has been seen keeping one. */
  const graceSeconds = () => deps.pacing.graceFor(0, 0);

  const refreshCounts = async () => {
    counts = await countByStatus(handle.db);
    deps.pacing.setFleetSize((counts.online ?? 0) + (counts.offline ?? 0));
  };

  const lead = async (): Promise<boolean> => {
    const leading = !stopped && (await deps.lease.refresh());
    telemetry.livenessLeader.set(leading ? 1 : 0);
    return leading;
  };

  const sweep = async (now: Date): Promise<SweepResult> => {
    if (!(await lead())) return { outcome: "not_leader", transitions: [] };
    await deps.flushHeartbeats();
    // Each node's grace comes from its own interval and cadence (pacing.ts), in SQL.
    const rule = deps.pacing.graceRule();
    // The hold covers the longest pushback: a node told to wait that long after
    // the restart must still get its whole grace once it may call again.
    const started = new Date(startedAt + (deps.restartPushbackMs ?? 0));
    const transitions = await markHeardOnline(handle.db, now, rule);
    let outcome: SweepOutcome = "swept";
    const { online, silent, held } = await countSilent(handle.db, now, started, rule);
    const share = online > 0 ? silent / online : 0;
    if (online >= options.massMissMinNodes && share >= options.massMissFraction) {
      outcome = "held";
      if (!suspect) {
        logger.error(
          { online, silent, threshold: options.massMissFraction },
          "most of the fleet went silent at once: suspecting the manager (database or network) and holding offline transitions",
        );
      }
      suspect = true;
    } else {
      if (suspect) logger.warn({ online, silent }, "fleet heard from again; liveness resumes");
      suspect = false;
      if (held > 0) outcome = "restart_grace";
      if (silent > 0) transitions.push(...(await markSilentOffline(handle.db, now, started, rule)));
    }
    transitions.push(...(await forgetGoneNodes(handle.db, now, options)));
    const flapSince = new Date(now.getTime() - options.flapWindowSeconds * 1000);
    transitions.push(
      ...(await updateFlapping(
        handle.db,
        now,
        flapSince,
        options.flapEnterTransitions,
        options.flapExitTransitions,
      )),
    );
    telemetry.livenessSweeps.inc({ outcome });
    for (const t of transitions) {
      telemetry.livenessTransitions.inc({ kind: t.kind });
      logger.info({ node_id: t.nodeId, kind: t.kind, reason: t.reason }, "node status changed");
    }
    return { outcome, transitions };
  };

  const tick = () => {
    ticking = ticking
      .then(async () => {
        await sweep(new Date());
        await refreshCounts();
      })
      .catch((err: unknown) => logger.error({ err }, "liveness sweep failed"));
    return ticking;
  };

  return {
    /** Current grace period in seconds. */
    graceSeconds,
    /** Runs one sweep now (tests, and the timer). */
    sweep: (now = new Date()) => {
      const run = ticking.then(async () => {
        const result = await sweep(now);
        await refreshCounts();
        return result;
      });
      ticking = run.then(
        () => undefined,
        (err: unknown) => logger.error({ err }, "liveness sweep failed"),
      );
      return run;
    },
    isLeader: () => deps.lease.isLeader(),
    isSuspect: () => suspect,
    counts: () => counts,
    async start(): Promise<void> {
      await refreshCounts();
      timer ??= setInterval(() => void tick(), options.sweepIntervalMs);
      timer.unref();
    },
    async stop(): Promise<void> {
      stopped = true;
      if (timer) clearInterval(timer);
      timer = undefined;
      await ticking;
      await deps.lease.release();
      telemetry.livenessLeader.set(0);
    },
  };
}

export type Liveness = ReturnType<typeof createLiveness>;
