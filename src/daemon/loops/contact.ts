/**
 * Shared news that the manager is reachable. Each loop backs off on its own
 * after failures; without this, the report loop could sit out a 60 s backoff
 * while heartbeats already get through again. A success on any loop ends
 * every loop's backoff.
 */
export interface Contact {
  /** A call got an answer from the manager. */
  reached(): void;
  /** Counts reached() calls; take it before a call to ask later "was there contact since?". */
  readonly generation: number;
  /**
   * Waits ms, or less: resolves at once when there was contact after
   * `since` (a generation), early at the next contact or abort. True when
   * contact ended it (the caller's failure count should start over).
   */
  backoff(ms: number, since: number, signal: AbortSignal): Promise<boolean>;
}

export function createContact(): Contact {
  let generation = 0;
  let waiters = new Set<() => void>();
  return {
    get generation() {
      return generation;
    },
    reached() {
      generation++;
      const w = waiters;
      waiters = new Set();
      for (const wake of w) wake();
    },
    backoff(ms, since, signal) {
      if (generation > since) return Promise.resolve(true);
      if (signal.aborted) return Promise.resolve(false);
      return new Promise((resolve) => {
        const end = (byContact: boolean) => {
          clearTimeout(t);
          waiters.delete(onContact);
          signal.removeEventListener("abort", onAbort);
          resolve(byContact);
        };
        const onContact = () => end(true);
        const onAbort = () => end(false);
        const t = setTimeout(() => end(false), Math.max(0, ms));
        waiters.add(onContact);
        signal.addEventListener("abort", onAbort, { once: true });
      });
    },
  };
}
