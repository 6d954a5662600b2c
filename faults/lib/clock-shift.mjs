// Preloaded into a daemon (`node --import faults/lib/clock-shift.mjs …`) to step
// its wall clock the way `date -s` would, without touching the machine's clock:
// Date.now() and `new Date()` are offset by the milliseconds written in the file
// named by FLEET_FAULTS_CLOCK_FILE (re-read every 100 ms); performance.now() and
// timers, like the kernel's monotonic clock, do not move. libfaketime would also
// shift the monotonic clocks unless told not to, and is not a package here.
import { readFileSync } from "node:fs";

const file = process.env.FLEET_FAULTS_CLOCK_FILE;
if (file) {
  const RealDate = Date;
  const realNow = RealDate.now.bind(RealDate);
  let offset = 0;
  const read = () => {
    try {
      offset = Number(readFileSync(file, "utf8").trim()) || 0;
    } catch {
      offset = 0;
    }
  };
  read();
  setInterval(read, 100).unref();
  class ShiftedDate extends RealDate {
    constructor(...args) {
      if (args.length === 0) super(realNow() + offset);
      else super(...args);
    }
    static now() {
      return realNow() + offset;
    }
  }
  globalThis.Date = ShiftedDate;
}
