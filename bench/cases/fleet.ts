/**
 * fleet: the largest simulated fleet one manager holds — every node heartbeats
 * every 30 s (± 10 % jitter) and reports ~40 values every 60 s — with p99 <
 * 100 ms and zero errors. Steps up (doubling) until a step fails.
 */
import { managerEnv, startServerChild } from "../lib/child.js";
import { startLoadGenerator } from "../lib/loadgen-client.js";
import { errorCount, type GenResult } from "../lib/loadgen-protocol.js";
import { metricValue } from "../lib/manager-metrics.js";
import { createBenchDatabase } from "../lib/pg.js";
import { cpuMeter, machineMeter } from "../lib/proc.js";
import type { BenchOptions, BenchRow, CaseResult } from "../lib/report.js";

const P99_LIMIT_MS = 100;
const LOOP_LAG_MAX = "fleet_manager_nodejs_eventloop_lag_max_seconds";

interface Step {
  nodes: number;
  res: GenResult;
  managerCores: number;
  machineCores: number;
  pass: boolean;
  why: string;
  loopLagMaxMs: number;
}

export async function fleetCase(opts: BenchOptions): Promise<CaseResult> {
  const windowS = opts.quick ? 6 : 30;
  const maxSteps = opts.quick ? 5 : 9;
  const budgetMs = (opts.quick ? 45 : 600) * 1000;
  const prefix = "fl";
  const db = await createBenchDatabase("fleet");
  // Debug knobs: BENCH_FLEET_NODES=60000 runs that one step; BENCH_CPU_PROF=dir profiles the manager.
  const fixedNodes = Number(process.env.BENCH_FLEET_NODES ?? 0);
  const profDir = process.env.BENCH_CPU_PROF;
  const manager = await startServerChild("manager.ts", {
    name: "fleet-manager",
    execArgv: profDir ? ["--cpu-prof", `--cpu-prof-dir=${profDir}`] : [],
    env: managerEnv(db.url, opts.stack),
  });
  const gen = await startLoadGenerator();
  const steps: Step[] = [];
  const t0 = Date.now();
  let seeded = 0;
  try {
    const seed = async (n: number) => {
      if (n <= seeded) return;
      // Registered over RPC, as daemons do: the manager then knows them (steady state),
      // rather than meeting every node for the first time inside the measured window.
      const reg = await gen.run(
        {
          op: "register",
          url: manager.grpcUrl,
          prefix,
          from: seeded,
          to: n,
          concurrency: 200,
          maxSeconds: 180,
        },
        200_000,
      );
      if (reg.ok !== n - seeded) {
        throw new Error(`registering nodes ${seeded}–${n - 1}: ${reg.ok} ok, ${reg.firstError}`);
      }
      opts.log(`fleet: registered ${n - seeded} nodes at ${(reg.ok / reg.seconds).toFixed(0)}/s`);
      seeded = n;
    };
    const managerCpu = cpuMeter(manager.pid);
    const machine = machineMeter();
    let nodes = fixedNodes || 5000;
    let lastPass = 0;
    let firstFail = 0;
    let retried = false;
    for (let i = 0; i < maxSteps && Date.now() - t0 < budgetMs; i++) {
      await seed(nodes);
      // Reading /metrics resets prom-client's event-loop delay histogram: the next read covers this step.
      await metricValue(manager.httpUrl, LOOP_LAG_MAX);
      managerCpu.reset();
      machine.reset();
      const res = await gen.run(
        {
          op: "fleet",
          url: manager.grpcUrl,
          prefix,
          nodes,
          seconds: windowS,
          hbIntervalS: 30,
          reportIntervalS: 60,
          jitter: 0.1,
          valuesPerReport: 40,
          maxInflight: 20_000,
          sessions: 8,
        },
        (windowS + 60) * 1000,
      );
      const loopLagMaxMs = (await metricValue(manager.httpUrl, LOOP_LAG_MAX)) * 1000;
      const errors = errorCount(res);
      const expectedRate = nodes / 30 + nodes / 60;
      const rate = res.extra.rpcPerSecond ?? 0;
      const why =
        errors > 0
          ? `${errors} errors ${JSON.stringify(res.errors)} ${res.firstError}`
          : res.p99Ms >= P99_LIMIT_MS
            ? `p99 ${res.p99Ms.toFixed(0)} ms`
            : rate < expectedRate * 0.85
              ? `generator sent ${rate.toFixed(0)} of ${expectedRate.toFixed(0)} RPC/s`
              : "";
      const step: Step = {
        nodes,
        res,
        managerCores: managerCpu.cores(),
        machineCores: machine.cores(),
        pass: why === "",
        why,
        loopLagMaxMs,
      };
      steps.push(step);
      opts.log(
        `fleet ${nodes} nodes: ${rate.toFixed(0)} RPC/s, p50 ${res.p50Ms.toFixed(1)} ms, p99 ${res.p99Ms.toFixed(1)} ms (heartbeat ${res.extra.heartbeatP99Ms?.toFixed(1)}, report ${res.extra.reportP99Ms?.toFixed(1)}), errors ${errors}, manager ${step.managerCores.toFixed(2)} cores (event-loop lag max ${loopLagMaxMs.toFixed(0)} ms), generator ${res.generatorCores.toFixed(2)} cores, machine ${step.machineCores.toFixed(2)} — ${step.pass ? "pass" : `FAIL (${why})`}`,
      );
      // A latency-only miss while the manager idles and the machine is saturated by
      // others looks disturbed: measure that step once more before believing it.
      const disturbed =
        !step.pass && errors === 0 && step.managerCores < 0.5 && step.machineCores > 1.8;
      if (disturbed && !retried) {
        retried = true;
        opts.log(`fleet ${nodes} nodes: looks disturbed (machine busy, manager idle); repeating`);
        await new Promise((r) => setTimeout(r, 3000));
        continue;
      }
      retried = false;
      if (step.pass) lastPass = Math.max(lastPass, nodes);
      else firstFail = firstFail ? Math.min(firstFail, nodes) : nodes;
      // Double until the first failure, then bisect between the last pass and it.
      if (fixedNodes) break;
      if (!firstFail) nodes *= 2;
      else if (firstFail - lastPass > Math.max(1000, lastPass * 0.15)) {
        nodes = Math.round((lastPass + firstFail) / 2 / 500) * 500;
      } else break;
      await new Promise((r) => setTimeout(r, 2000));
    }
    const best = steps.filter((s) => s.pass).sort((a, b) => b.nodes - a.nodes)[0];
    const rows: BenchRow[] = steps.map((s) => ({
      measure: `${s.nodes.toLocaleString("en-US")} nodes`,
      value: s.pass ? "pass" : "FAIL",
      unit: "",
      note: `${(s.res.extra.rpcPerSecond ?? 0).toFixed(0)} RPC/s, p50 ${s.res.p50Ms.toFixed(1)} ms, p99 ${s.res.p99Ms.toFixed(1)} ms (heartbeat ${s.res.extra.heartbeatP99Ms?.toFixed(0)}, report ${s.res.extra.reportP99Ms?.toFixed(0)}), manager ${s.managerCores.toFixed(2)} cores (loop lag max ${s.loopLagMaxMs.toFixed(0)} ms), generator ${s.res.generatorCores.toFixed(2)} cores, machine ${s.machineCores.toFixed(2)}${s.pass ? "" : `; ${s.why}`}`,
    }));
    rows.push({
      measure: "largest fleet held",
      value: best?.nodes ?? 0,
      unit: "nodes",
      note: best
        ? `${(best.res.extra.rpcPerSecond ?? 0).toFixed(0)} RPC/s, ${windowS} s window per step`
        : "no step passed",
    });
    return {
      name: "fleet",
      rows,
      ratios: {},
      headlines: {
        fleet_nodes: best?.nodes ?? 0,
        fleet_rpc_per_second: best?.res.extra.rpcPerSecond ?? 0,
      },
      notes: [
        `steps of ${windowS} s from random phases after registering the step's new nodes over RPC; calls over 8 HTTP/2 connections; simulated nodes keep 30 s/60 s whatever pacing the manager asks for`,
      ],
    };
  } finally {
    await gen.stop();
    await manager.stop();
    await db.drop();
  }
}
