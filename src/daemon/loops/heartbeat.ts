import type { Logger } from "../../common/logging.js";
import { applyAnnouncedInterval, type Health, noteError } from "../health.js";
import type { LimitedLog } from "../log-limit.js";
import type { ManagerClient } from "../transport/client.js";
import { describeError, policyFor } from "../transport/errors.js";
import type { Contact } from "./contact.js";
import type { Registration } from "./register.js";
import { jitter, sleep } from "./timing.js";

export interface HeartbeatLoopOptions {
  client: ManagerClient;
  nodeId: string;
  registration: Registration;
  health: Health;
  signal: AbortSignal;
  logger: Logger;
  log: LimitedLog;
  random?: () => number;
  /** Shared with the other loops: a heartbeat that gets through ends their backoff. */
  contact?: Contact;
}

/**
 * Heartbeat every interval ±10 %; the interval is manager.heartbeat_interval,
 * or the manager's longer `heartbeat_interval_seconds`. NOT_FOUND means the
 * manager lost us: register again and carry on.
 */
export async function runHeartbeatLoop(o: HeartbeatLoopOptions): Promise<void> {
  while (!o.signal.aborted) {
    // Registered first, so the first wait already uses the interval the manager asked for.
    if (!(await o.registration.ensure())) break;
    await sleep(jitter(o.health.heartbeatIntervalMs, 0.1, o.random), o.signal);
    if (o.signal.aborted || !(await o.registration.ensure())) break;
    try {
      const res = await o.client.heartbeat(
        { nodeId: o.nodeId, timestamp: BigInt(Math.floor(Date.now() / 1000)) },
        { signal: o.signal },
      );
      o.health.lastContactAt = Date.now();
      o.contact?.reached();
      o.logger.debug({ nextInSeconds: res.heartbeatIntervalSeconds }, "heartbeat ok");
      applyAnnouncedInterval(o.health, res.heartbeatIntervalSeconds);
    } catch (err) {
      if (o.signal.aborted) break;
      noteError(o.health, err);
      const policy = policyFor(err);
      if (policy.reaction === "reregister") {
        o.logger.warn("manager does not know this node (NOT_FOUND); registering again");
        o.registration.invalidate();
      } else {
        o.log(
          policy.loud ? "error" : "warn",
          "heartbeat",
          { code: policy.kind },
          `heartbeat failed: ${describeError(err)}`,
        );
      }
    }
  }
}
