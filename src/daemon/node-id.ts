import { randomUUID } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";

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
