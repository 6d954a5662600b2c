/**
 * fleet: the largest simulated fleet one manager holds — every node heartbeats
 * every 30 s (± 10 % jitter) and reports ~40 values every 60 s — with p99 <
 * 100 ms and zero errors. Steps up (doubling) until a step fails.
 */
import postgres from "postgres";
import { managerEnv, startServerChild } from "../lib/child.js";
import { startLoadGenerator } from "../lib/loadgen-client.js";
import { errorCount, type GenResult } from "../lib/loadgen-protocol.js";
import { createBenchDatabase } from "../lib/pg.js";
import { cpuMeter, machineMeter } from "../lib/proc.js";
import type { BenchOptions, BenchRow, CaseResult } from "../lib/report.js";

const P99_LIMIT_MS = 100;

interface Step {
  nodes: number;
  res: GenResult;
  managerCores: number;
  machineCores: number;
  pass: boolean;
  why: string;
}

export async function fleetCase(opts: BenchOptions): Promise<CaseResult> {
  const windowS = opts.quick ? 6 : 30;
  const maxSteps = opts.quick ? 5 : 9;
  const budgetMs = (opts.quick ? 40 : 480) * 1000;
  const prefix = "fl";
  const db = await createBenchDatabase("fleet");
  const sql = postgres(db.url, { max: 1, onnotice: () => {} });
  const manager = await startServerChild("manager.ts", {
    name: "fleet-manager",
    env: managerEnv(db.url, opts.stack),
  });
  const gen = await startLoadGenerator();
  const steps: Step[] = [];
  const t0 = Date.now();
  let seeded = 0;
  try {
    const seed = async (n: number) => {
      if (n <= seeded) return;
      // Nodes are inserted in SQL (registering 100k nodes over RPC would take most of the budget).
      await sql`
        insert into nodes (node_id, hostname, os, arch, last_seen_at)
        select ${`${prefix}-`} || g, 'host-' || g, 'linux', 'amd64', now()
        from generate_series(${seeded}::int, ${n - 1}::int) g
        on conflict do nothing`;
      seeded = n;
    };
    const managerCpu = cpuMeter(manager.pid);
    const machine = machineMeter();
    let nodes = opts.quick ? 2500 : 5000;
    let lastPass = 0;
    let firstFail = 0;
    let retried = false;
    for (let i = 0; i < maxSteps && Date.now() - t0 < budgetMs; i++) {
      await seed(nodes);
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
      };
      steps.push(step);
      opts.log(
        `fleet ${nodes} nodes: ${rate.toFixed(0)} RPC/s, p50 ${res.p50Ms.toFixed(1)} ms, p99 ${res.p99Ms.toFixed(1)} ms (heartbeat ${res.extra.heartbeatP99Ms?.toFixed(1)}, report ${res.extra.reportP99Ms?.toFixed(1)}), errors ${errors}, manager ${step.managerCores.toFixed(2)} cores, generator ${res.generatorCores.toFixed(2)} cores, machine ${step.machineCores.toFixed(2)} — ${step.pass ? "pass" : `FAIL (${why})`}`,
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
      note: `${(s.res.extra.rpcPerSecond ?? 0).toFixed(0)} RPC/s, p50 ${s.res.p50Ms.toFixed(1)} ms, p99 ${s.res.p99Ms.toFixed(1)} ms (heartbeat ${s.res.extra.heartbeatP99Ms?.toFixed(0)}, report ${s.res.extra.reportP99Ms?.toFixed(0)}), manager ${s.managerCores.toFixed(2)} cores, generator ${s.res.generatorCores.toFixed(2)} cores, machine ${s.machineCores.toFixed(2)}${s.pass ? "" : `; ${s.why}`}`,
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
        `steps of ${windowS} s from random phases; nodes inserted into the nodes table in SQL, calls over 8 HTTP/2 connections; simulated nodes keep 30 s/60 s whatever pacing the manager asks for`,
      ],
    };
  } finally {
    await gen.stop();
    await manager.stop();
    await sql.end();
    await db.drop();
  }
}
