import type { NodeEvent } from "../../gen/fleet/v1/fleet_pb.js";
import { fleet, needsToken } from "./client.js";
import { isUnreachable, markContact, markUnreachable } from "./connection.js";

type Listener = (e: NodeEvent) => void;
let onRejected: (() => void) | undefined;

/** Called when the stream is refused for the token (it was rotated or revoked). */
export function onTokenRejected(fn: () => void): void {
  onRejected = fn;
}
export type LiveState = "connecting" | "live" | "reconnecting";

const listeners = new Set<Listener>();
const stateListeners = new Set<(s: LiveState) => void>();
let started = false;

/** Receives every node event while subscribed; returns the unsubscribe function. */
export function onNodeEvent(fn: Listener): () => void {
  listeners.add(fn);
  start();
  return () => listeners.delete(fn);
}

/** Follows the connection state of the event stream. */
export function onLiveState(fn: (s: LiveState) => void): void {
  stateListeners.add(fn);
}

function setState(s: LiveState) {
  for (const fn of stateListeners) fn(s);
}

/**
 * One WatchNodes stream for the whole page. After a drop it reconnects with
 * after_event_id set to the last event received, so nothing is missed.
 */
function start(): void {
  if (started) return;
  started = true;
  let after = 0n;
  let failures = 0;
  const loop = async () => {
    for (;;) {
      try {
        setState(failures ? "reconnecting" : "connecting");
        // "live" only once the manager answered: its response headers, or the
        // first message (the manager opens every stream with a keepalive).
        let established = false;
        const establish = () => {
          if (established) return;
          established = true;
          failures = 0;
          markContact();
          setState("live");
        };
        const stream = fleet.watchNodes({ afterEventId: after }, { onHeader: establish });
        for await (const e of stream) {
          establish();
          markContact();
          after = e.eventId;
          if (e.kind === "keepalive") continue;
          for (const fn of listeners) fn(e);
        }
      } catch (err) {
        console.warn("fleet: event stream dropped", err);
        if (isUnreachable(err)) markUnreachable();
        if (needsToken(err)) onRejected?.();
      }
      failures++;
      setState("reconnecting");
      // At most 5 s apart, so the page notices soon when the manager is back.
      await new Promise((r) => setTimeout(r, Math.min(5000, 500 * 2 ** Math.min(failures, 4))));
    }
  };
  void loop();
}
