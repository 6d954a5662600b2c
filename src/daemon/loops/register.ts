import type { NodeRegistration } from "../../common/types.js";
import { applyAnnouncedInterval, type Health, noteError } from "../health.js";
import type { LimitedLog } from "../log-limit.js";
import type { ManagerClient } from "../transport/client.js";
import { describeError, policyFor } from "../transport/errors.js";
import type { Contact } from "./contact.js";
import { reconnectDelayMs, sleep } from "./timing.js";

export interface Registration {
  /** Resolves once the node is registered (retrying until it is), or when the signal aborts. */
  ensure(): Promise<boolean>;
  /** The manager forgot us (NOT_FOUND): the next ensure() registers again. */
  invalidate(): void;
}

export interface RegistrationOptions {
  client: ManagerClient;
  info: NodeRegistration;
  health: Health;
  reconnectIntervalMs: number;
  signal: AbortSignal;
  log: LimitedLog;
  onRegistered?: () => void;
  /** A fuller explanation than describeError (the connection's TLS probe); used sparingly. */
  explain?: (err: unknown) => Promise<string>;
  random?: () => number;
  /** Shared with the other loops: a success anywhere ends this backoff. */
  contact?: Contact;
}

/**
 * RegisterNode, retried until it succeeds. The first attempt after start and
 * after each NOT_FOUND waits a random part of `reconnect_interval`, so a fleet
 * restarted together (or a wiped manager) does not see every node at once.
 */
export function createRegistration(o: RegistrationOptions): Registration {
  const random = o.random ?? Math.random;
  let pending: Promise<boolean> | undefined;
  const attempt = async (): Promise<boolean> => {
    await sleep(random() * o.reconnectIntervalMs, o.signal);
    for (let failures = 0; !o.signal.aborted; ) {
      const since = o.contact?.generation ?? 0;
      try {
        const res = await o.client.registerNode(o.info, { signal: o.signal });
        o.health.registered = true;
        o.health.lastContactAt = Date.now();
        applyAnnouncedInterval(o.health, res.heartbeatIntervalSeconds);
        o.contact?.reached();
        o.onRegistered?.();
        return true;
      } catch (err) {
        if (o.signal.aborted) break;
        failures++;
        noteError(o.health, err);
        const policy = policyFor(err);
        const why = o.explain && failures % 30 === 1 ? await o.explain(err) : describeError(err);
        o.log(
          policy.loud ? "error" : "warn",
          "register",
          { code: policy.kind, failures },
          `register failed, retrying: ${why}`,
        );
        const delay = reconnectDelayMs(failures, o.reconnectIntervalMs, random);
        if (!o.contact) await sleep(delay, o.signal);
        else if (await o.contact.backoff(delay, since, o.signal)) failures = 0;
      }
    }
    return false;
  };
  return {
    ensure() {
      if (o.health.registered) return Promise.resolve(true);
      pending ??= attempt().finally(() => {
        pending = undefined;
      });
      return pending;
    },
    invalidate() {
      o.health.registered = false;
    },
  };
}
