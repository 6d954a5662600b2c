/**
 * Whether a process with this pid exists: signal 0 checks without sending.
 * EPERM means it exists but belongs to someone else — still alive, so a lock
 * or status file it holds is not stale.
 */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
