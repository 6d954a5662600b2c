import { accessSync, constants, mkdirSync } from "node:fs";
import { join } from "node:path";

/**
 * Makes sure `work_dir` (node_id, spool/, status.json) exists and is ours to
 * write, before anything else touches it. Returns one line saying what to do
 * when it is not (a non-root daemon and the default /var/lib/fleet-daemon),
 * instead of a stack trace from deep inside the spool.
 */
export function workDirProblem(dir: string): string | undefined {
  try {
    mkdirSync(join(dir, "spool"), { recursive: true });
    accessSync(dir, constants.W_OK);
    accessSync(join(dir, "spool"), constants.W_OK);
    return undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    return `daemon.work_dir "${dir}" is not writable (${code}): pass --work-dir DIR (or set daemon.work_dir) to a folder this user owns, or run fleet-daemon from its systemd unit, whose StateDirectory=fleet-daemon creates /var/lib/fleet-daemon for it`;
  }
}
