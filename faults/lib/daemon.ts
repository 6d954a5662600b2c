import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO } from "./build.js";
import { type Proc, spawnProc } from "./proc.js";

export const CLOCK_SHIFT_MODULE = join(REPO, "faults/lib/clock-shift.mjs");

/** One simulated machine: a node id, its own work_dir, and the daemon processes it ran. */
export interface DaemonNode {
  readonly id: string;
  readonly workDir: string;
  /** Every process this node ran, in order (a SIGKILLed daemon is restarted as a new one). */
  readonly lives: Proc[];
  readonly current: Proc | undefined;
  start(): Proc;
  status(): DaemonStatusDoc | undefined;
}

export interface DaemonStatusDoc {
  registered: boolean;
  spool: {
    batches: number;
    dropped_batches: number;
    dropped_samples: number;
    dropped_range: { from: string; to: string } | null;
  };
  ticks_missed: number;
  ticks_late: number;
  clock_steps: number;
  batches_sent: number;
}

/**
 * The built daemon (dist/src/daemon/main.js) with 1 s collectors, 1 s
 * heartbeats, a short reconnect interval and its own work_dir. `clockFile`
 * preloads faults/lib/clock-shift.mjs so the scenario can step its clock.
 */
export function daemonNode(o: {
  id: string;
  dir: string;
  address: () => string;
  workDir?: string;
  clockFile?: string;
}): DaemonNode {
  const workDir = o.workDir ?? join(o.dir, o.id);
  mkdirSync(workDir, { recursive: true });
  const yaml = join(o.dir, `${o.id}.yaml`);
  const lives: Proc[] = [];
  const node: DaemonNode = {
    id: o.id,
    workDir,
    lives,
    get current() {
      const p = lives.at(-1);
      return p?.running ? p : undefined;
    },
    start() {
      writeFileSync(
        yaml,
        `daemon: { id: "${o.id}", log_level: info, work_dir: "${workDir}" }
manager: { address: "${o.address()}", heartbeat_interval: 1s, reconnect_interval: 500ms, timeout: 5s }
collectors:
  cpu: { interval: 1s }
  memory: { interval: 1s }
  disk: { interval: 1s, mount_points: [/] }
  network: { interval: 1s, interfaces: [lo] }
`,
      );
      const args = [
        ...(o.clockFile ? ["--import", CLOCK_SHIFT_MODULE] : []),
        join(REPO, "dist/src/daemon/main.js"),
        "--config",
        yaml,
      ];
      const p = spawnProc(`${o.id}#${lives.length + 1}`, process.execPath, args, {
        log: join(o.dir, `${o.id}.log`),
        env: {
          MANAGER_ADDRESS: "",
          NODE_NAME: "",
          LOG_LEVEL: "",
          FLEET_LABELS: "",
          ...(o.clockFile ? { FLEET_FAULTS_CLOCK_FILE: o.clockFile } : {}),
        },
      });
      lives.push(p);
      return p;
    },
    status() {
      try {
        return JSON.parse(readFileSync(join(workDir, "status.json"), "utf8")) as DaemonStatusDoc;
      } catch {
        return undefined;
      }
    },
  };
  return node;
}
