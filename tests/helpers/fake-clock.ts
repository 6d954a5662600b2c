import type { LoopClock } from "../../src/daemon/loops/sample-clock.js";

interface Sleeper {
  due: number;
  wake: () => void;
}

/**
 * A LoopClock the test drives: time moves only in advance()/step(), sleeps
 * wake in order of their due time. `settle(n)` waits (in real time, briefly)
 * until n loops are asleep again, so a test knows each loop has finished the
 * work the last advance released, without any timed wait.
 */
export function createFakeClock(startWallMs: number) {
  let mono = 1_000;
  let wallOffset = startWallMs - mono;
  const sleepers = new Set<Sleeper>();
  const clock: LoopClock = {
    wallMs: () => mono + wallOffset,
    monoMs: () => mono,
    sleep(ms, signal) {
      return new Promise<void>((resolve) => {
        if (signal.aborted) return resolve();
        const s: Sleeper = {
          due: mono + Math.max(0, ms),
          wake: () => {
            sleepers.delete(s);
            signal.removeEventListener("abort", s.wake);
            resolve();
          },
        };
        sleepers.add(s);
        signal.addEventListener("abort", s.wake, { once: true });
      });
    },
  };
  const settle = async (asleep: number) => {
    // A deadline in real time only to fail instead of hanging; loops do real spool I/O meanwhile.
    const until = performance.now() + 10_000;
    while (performance.now() < until) {
      if ([...sleepers].filter((s) => s.due > mono).length >= asleep) return;
      const due = [...sleepers].filter((s) => s.due <= mono);
      for (const s of due) s.wake();
      await new Promise((r) => setImmediate(r));
    }
    throw new Error(`fake clock: ${asleep} loop(s) never went back to sleep`);
  };
  return {
    clock,
    settle,
    /** Moves both clocks on by ms, waking sleepers one due time after another. */
    async advance(ms: number, asleep = 1) {
      const until = mono + ms;
      for (;;) {
        const next = Math.min(...[...sleepers].map((s) => s.due));
        if (!(next <= until)) break;
        mono = Math.max(mono, next);
        await settle(asleep);
      }
      mono = until;
      await settle(asleep);
    },
    /** Steps the wall clock only (what `date -s` does); monotonic time goes on. */
    stepWall(ms: number) {
      wallOffset += ms;
    },
    /** Moves time on without waking anyone: a timer that fires late. */
    stall(ms: number) {
      mono += ms;
    },
    /** Monotonic time of the earliest sleeper's wake-up. */
    get nextDue() {
      return Math.min(...[...sleepers].map((s) => s.due));
    },
    get mono() {
      return mono;
    },
    get wall() {
      return mono + wallOffset;
    },
  };
}
