import { randomUUID } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { isProcessAlive } from "../common/process-alive.js";

/**
 * The node id: `daemon.id` (or NODE_NAME, already folded into config), else a
 * UUID generated once and kept in `work_dir/node_id` so restarts keep it.
 */
export function resolveNodeId(configuredId: string, workDir: string): string {
  if (configuredId) return configuredId;
  const file = join(workDir, "node_id");
  try {
    const kept = readFileSync(file, "utf8").trim();
    if (kept) return kept;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  mkdirSync(workDir, { recursive: true });
  const id = randomUUID();
  // Write-then-rename so a crash never leaves a half-written id behind.
  writeFileSync(`${file}.tmp`, `${id}\n`, { mode: 0o644 });
  renameSync(`${file}.tmp`, file);
  return id;
}

/**
 * `fleet-daemon reset-id`: gives a cloned machine an identity of its own. A
 * VM image copied with its work_dir carries the original's `node_id` (and its
 * spool, the original's data); both are replaced. Refused while the daemon
 * runs (its status.json names a live pid), and when the id is configured
 * (`daemon.id` or NODE_NAME), which only the configuration can change.
 */
export function resetNodeId(
  configuredId: string,
  workDir: string,
): { previous: string | undefined; id: string; spoolCleared: boolean } {
  if (configuredId) {
    throw new Error(
      `the node id "${configuredId}" is set by daemon.id or NODE_NAME; give this machine its own there`,
    );
  }
  try {
    const status = JSON.parse(readFileSync(join(workDir, "status.json"), "utf8")) as {
      pid?: number;
    };
    if (status.pid && status.pid !== process.pid && isProcessAlive(status.pid)) {
      throw new Error(`the daemon is running (pid ${status.pid}); stop it first`);
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT" && !(err instanceof SyntaxError))
      throw err;
  }
  let previous: string | undefined;
  try {
    previous = readFileSync(join(workDir, "node_id"), "utf8").trim() || undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  rmSync(join(workDir, "node_id"), { force: true });
  const spool = join(workDir, "spool");
  let spoolCleared = false;
  try {
    rmSync(spool, { recursive: true });
    spoolCleared = true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  rmSync(join(workDir, "status.json"), { force: true });
  return { previous, id: resolveNodeId("", workDir), spoolCleared };
}
