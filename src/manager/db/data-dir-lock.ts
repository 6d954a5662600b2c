import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { isProcessAlive } from "../../common/process-alive.js";

/** Another live process holds the PGlite data directory. */
export class DataDirLockedError extends Error {
  override name = "DataDirLockedError";
}

export const LOCK_FILE = "fleet-manager.lock";

/** Paths locked by this process (a second manager in the same process is refused too). */
const heldHere = new Set<string>();

/**
 * Locks a PGlite data directory for this process: `<dir>/fleet-manager.lock`
 * holding the pid, created atomically (link(2) fails when it exists). PGlite
 * is one process's database; two managers on one directory would each keep
 * their own view and split the fleet between them, or corrupt the files. A
 * lock whose pid is gone (a crash, SIGKILL) is stale and taken over. Returns
 * the release function.
 */
export function lockDataDir(dir: string): () => void {
  mkdirSync(dir, { recursive: true });
  const lock = join(dir, LOCK_FILE);
  const mine = `${process.pid}\n`;
  const tmp = join(dir, `.${LOCK_FILE}.${process.pid}.${Math.random().toString(36).slice(2)}`);
  writeFileSync(tmp, mine);
  try {
    // Bounded: another process breaking the same stale lock may win the race.
    for (let attempt = 0; ; attempt++) {
      try {
        linkSync(tmp, lock);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      }
      const holder = Number.parseInt(readLock(lock), 10);
      const live =
        Number.isInteger(holder) &&
        holder > 0 &&
        (holder !== process.pid || heldHere.has(lock)) &&
        isProcessAlive(holder);
      if (live || attempt >= 2) {
        throw new DataDirLockedError(
          `data directory ${dir} is in use by another fleet-manager (pid ${holder}, ${lock}); stop it first, or use another FLEET_DATA_DIR, or DATABASE_URL for several managers`,
        );
      }
      // Stale: its process is gone (a crash, SIGKILL). Take it over.
      try {
        unlinkSync(lock);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      }
    }
  } finally {
    unlinkSync(tmp);
  }
  heldHere.add(lock);
  return () => {
    heldHere.delete(lock);
    // Only ours: a lock taken over after we were presumed dead is not ours to remove.
    if (readLock(lock) === mine) unlinkSync(lock);
  };
}

function readLock(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}
