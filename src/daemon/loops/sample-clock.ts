import { sleep } from "./timing.js";

/** What the loops read time from; tests inject a fake one. */
export interface LoopClock {
  /** The system (wall) clock, Unix ms: what Date.now() says, steps included. */
  wallMs(): number;
  /** A monotonic clock in ms (performance.now()): never steps. */
  monoMs(): number;
  /** Resolves after ms of monotonic time, or early when the signal aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

export const systemClock: LoopClock = {
  wallMs: () => Date.now(),
  monoMs: () => performance.now(),
  sleep,
};

/** A step of the system clock as the sample clock saw it. */
export interface ClockStep {
  /** System clock minus sample clock, ms (positive: the system clock jumped ahead). */
  offsetMs: number;
  /** false when first seen (samples keep the monotonic time), true when adopted. */
  adopted: boolean;
}

/**
 * The time samples are stamped with: the system clock while it runs smoothly
 * (NTP slews are followed), the monotonic clock across a step. A system clock
 * stepped back would make samples reuse seconds the manager already stored
 * (its rows are keyed by timestamp, so the new ones would be lost); stepped
 * ahead, it would make holes and, beyond the manager's `limits.max_future`,
 * rejected rows. A step that holds for `adoptAfterMs` is taken to be a
 * correction and adopted; `epoch` counts adoptions so loops can tell a jump
 * of the sample clock from lost time.
 */
export interface SampleClock {
  /** Unix ms on the sample clock. */
  now(): number;
  readonly epoch: number;
}

export interface SampleClockOptions {
  /** An offset at least this large is a step, not a slew. */
  stepMs?: number;
  /** How long a step must hold before the sample clock follows it. */
  adoptAfterMs?: number;
  onStep?: (step: ClockStep) => void;
}

export const CLOCK_STEP_MS = 1_000;
export const CLOCK_ADOPT_AFTER_MS = 60_000;

export function createSampleClock(clock: LoopClock, o: SampleClockOptions = {}): SampleClock {
  const stepMs = o.stepMs ?? CLOCK_STEP_MS;
  const adoptAfterMs = o.adoptAfterMs ?? CLOCK_ADOPT_AFTER_MS;
  let anchorWall = clock.wallMs();
  let anchorMono = clock.monoMs();
  let epoch = 0;
  let step: { since: number; offsetMs: number } | undefined;
  return {
    get epoch() {
      return epoch;
    },
    now() {
      const mono = clock.monoMs();
      const wall = clock.wallMs();
      const t = anchorWall + (mono - anchorMono);
      const offsetMs = wall - t;
      const follow = () => {
        anchorWall = wall;
        anchorMono = mono;
        step = undefined;
        return wall;
      };
      if (Math.abs(offsetMs) < stepMs) return follow();
      if (!step || Math.abs(offsetMs - step.offsetMs) >= stepMs) {
        // A new step (or a second one on top): samples stay on monotonic time for now.
        step = { since: mono, offsetMs };
        o.onStep?.({ offsetMs, adopted: false });
        return t;
      }
      if (mono - step.since < adoptAfterMs) return t;
      epoch++;
      o.onStep?.({ offsetMs, adopted: true });
      return follow();
    },
  };
}
