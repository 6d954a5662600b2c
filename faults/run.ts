/**
 * `npm run faults [-- --only NAME[,NAME] --verbose --keep]`: the fault suite.
 * Real processes only: the built manager and daemon (dist/), a private
 * PostgreSQL cluster, HAProxy. Each scenario prints one line with its
 * figures; the exit code is 1 if any failed. Loopback only, every wait bounded.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { ensureBuilt } from "./lib/build.js";
import { startPrivatePostgres } from "./lib/pg-cluster.js";
import { live } from "./lib/proc.js";
import type { Figures, Scenario, ScenarioContext } from "./lib/scenario.js";
import { clockStep } from "./scenarios/clock-step.js";
import { daemonSigkill } from "./scenarios/daemon-sigkill.js";
import { managerSigkill, managerSigterm } from "./scenarios/manager-restart.js";
import { postgresRestart } from "./scenarios/postgres-restart.js";
import { reconnect2000 } from "./scenarios/reconnect-2000.js";
import { replicaKilled } from "./scenarios/replica-killed.js";
import { spoolDiskFull } from "./scenarios/spool-disk-full.js";

const SCENARIOS: Scenario[] = [
  managerSigkill,
  managerSigterm,
  postgresRestart,
  replicaKilled,
  daemonSigkill,
  reconnect2000,
  spoolDiskFull,
  clockStep,
];

/** No scenario may run longer than this, whatever it waits for. */
const SCENARIO_LIMIT_MS = 180_000;

function parseArgs(argv: string[]) {
  const o = { only: [] as string[], verbose: false, keep: false, list: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--only") o.only.push(...(argv[++i] ?? "").split(",").filter(Boolean));
    else if (a?.startsWith("--only=")) o.only.push(...a.slice(7).split(",").filter(Boolean));
    else if (a === "--verbose" || a === "-v") o.verbose = true;
    else if (a === "--keep") o.keep = true;
    else if (a === "--list") o.list = true;
    else
      throw new Error(`unknown argument ${a}; use --only NAME[,NAME], --list, --verbose, --keep`);
  }
  return o;
}

const figureText = (f: Figures) =>
  Object.entries(f)
    .map(([k, v]) => `${k}=${v}`)
    .join(" ");

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  if (args.list) {
    for (const s of SCENARIOS) process.stdout.write(`${s.name.padEnd(24)} ${s.summary}\n`);
    return 0;
  }
  const unknown = args.only.filter((n) => !SCENARIOS.some((s) => s.name === n));
  if (unknown.length > 0) {
    process.stderr.write(
      `faults: unknown scenario ${unknown.join(", ")}; known: ${SCENARIOS.map((s) => s.name).join(", ")}\n`,
    );
    return 2;
  }
  const chosen = args.only.length ? SCENARIOS.filter((s) => args.only.includes(s.name)) : SCENARIOS;
  const t0 = performance.now();
  const built = ensureBuilt();
  const root = mkdtempSync(join(tmpdir(), "fleet-faults-"));
  const pg = await startPrivatePostgres();
  process.stdout.write(
    `fault suite: ${chosen.length} scenario(s), ${built}, private PostgreSQL on 127.0.0.1:${pg.port}, logs in ${root}\n`,
  );
  let failed = 0;
  const stopAll = async () => {
    for (const p of [...live]) {
      p.kill("SIGCONT");
      p.kill("SIGKILL");
    }
    await Promise.all([...live].map((p) => p.exited));
  };
  const interrupted = () => {
    void stopAll()
      .then(() => pg.destroy())
      .finally(() => process.exit(130));
  };
  process.once("SIGINT", interrupted);
  process.once("SIGTERM", interrupted);
  try {
    for (const s of chosen) {
      const dir = join(root, s.name);
      mkdirSync(dir, { recursive: true });
      const cleanups: (() => unknown)[] = [];
      const started = performance.now();
      let line: string;
      let sql: postgres.Sql | undefined;
      try {
        await pg.ensureRunning();
        const databaseUrl = await pg.createDatabase(`faults_${s.name.replace(/\W/g, "_")}`);
        sql = postgres(databaseUrl, { max: 2, onnotice: () => {}, connect_timeout: 5 });
        const ctx: ScenarioContext = {
          name: s.name,
          dir,
          pg,
          databaseUrl,
          sql,
          onCleanup: (fn) => cleanups.push(fn),
          note: (msg) => {
            if (args.verbose)
              process.stdout.write(
                `  ${s.name} +${((performance.now() - started) / 1000).toFixed(1)}s ${msg}\n`,
              );
          },
        };
        let limit: NodeJS.Timeout | undefined;
        const figures = await Promise.race([
          s.run(ctx),
          new Promise<never>((_, reject) => {
            limit = setTimeout(
              () => reject(new Error(`scenario took over ${SCENARIO_LIMIT_MS / 1000} s`)),
              SCENARIO_LIMIT_MS,
            );
          }),
        ]).finally(() => clearTimeout(limit));
        line = `PASS  ${s.name.padEnd(22)} ${((performance.now() - started) / 1000).toFixed(0).padStart(4)}s  ${figureText(figures)}`;
      } catch (err) {
        failed++;
        line = `FAIL  ${s.name.padEnd(22)} ${((performance.now() - started) / 1000).toFixed(0).padStart(4)}s  ${(err as Error).message} (logs: ${dir})`;
      }
      await stopAll();
      for (const fn of cleanups.reverse()) {
        try {
          await fn();
        } catch (err) {
          process.stderr.write(`  ${s.name}: cleanup failed: ${(err as Error).message}\n`);
        }
      }
      await sql?.end({ timeout: 2 }).catch(() => {});
      process.stdout.write(`${line}\n`);
    }
  } finally {
    await stopAll();
    await pg.destroy();
  }
  const total = ((performance.now() - t0) / 1000).toFixed(0);
  process.stdout.write(
    `fault suite: ${chosen.length - failed} passed, ${failed} failed in ${total} s\n`,
  );
  if (!failed && !args.keep) rmSync(root, { recursive: true, force: true });
  return failed ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`faults: ${(err as Error).stack ?? err}\n`);
    process.exitCode = 1;
  },
);
