import type { NodeEvent } from "../../gen/fleet/v1/fleet_pb.js";
import { fleet } from "./client.js";

type Listener = (e: NodeEvent) => void;
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
          setState("live");
        };
        const stream = fleet.watchNodes({ afterEventId: after }, { onHeader: establish });
        for await (const e of stream) {
          establish();
          after = e.eventId;
          if (e.kind === "keepalive") continue;
          for (const fn of listeners) fn(e);
        }
      } catch (err) {
        console.warn("fleet: event stream dropped", err);
      }
      failures++;
      setState("reconnecting");
      await new Promise((r) => setTimeout(r, Math.min(15_000, 500 * 2 ** Math.min(failures, 5))));
    }
  };
  void loop();
}
