import { InvalidArgumentError } from "../../common/errors.js";
import { parseSelector } from "../../common/selector.js";
import type { MetricWindow, NodeEvent } from "../../common/types.js";
import type { Database } from "../db/client.js";
import { exactFleetBuckets, type FleetBucket } from "../db/queries/fleet-metrics.js";
import { listNodeEvents } from "../db/queries/fleet-nodes.js";
import { rolledFleetBuckets } from "../db/queries/fleet-rollup.js";
import { requireNodeId, resolveRange } from "./fleet-query.js";

export const AGGREGATES = ["avg", "min", "max", "p50", "p90", "p99", "count"] as const;
export type Aggregate = (typeof AGGREGATES)[number];

const DEFAULT_EVENTS_PAGE = 100;
const MAX_EVENTS_PAGE = 1000;

/** As asked over the wire (start/end 0 as in QueryMetrics); the selector still unparsed. */
export interface FleetMetricsRequest extends MetricWindow {
  selector: string;
  status: string;
  aggregates: readonly string[];
}

/** Fleet-wide views over time: aggregates across nodes, and the event history. */
export function createFleetHistoryService(db: Database) {
  return {
    /** One series per asked aggregate, one point per bucket with data. */
    async queryFleetMetrics(
      q: FleetMetricsRequest,
      now = new Date(),
    ): Promise<{
      series: { aggregate: Aggregate; points: { t: number; v: number }[] }[];
      stepSeconds: number;
    }> {
      if (q.status !== "" && q.status !== "online" && q.status !== "offline") {
        throw new InvalidArgumentError(
          "status",
          `must be "online", "offline" or empty, got "${q.status.slice(0, 40)}"`,
        );
      }
      if (q.type === "") throw new InvalidArgumentError("type", "must be set, e.g. cpu");
      if (q.name === "") throw new InvalidArgumentError("name", "must be set, e.g. usage_percent");
      const aggregates = (q.aggregates.length ? q.aggregates : ["avg"]) as Aggregate[];
      for (const a of aggregates) {
        if (!AGGREGATES.includes(a)) {
          throw new InvalidArgumentError(
            "aggregates",
            `must be among ${AGGREGATES.join(", ")}, got ${JSON.stringify(a.slice(0, 40))}`,
          );
        }
      }
      const { start, end } = resolveRange(q, now);
      // About 300 buckets when no step is given, never finer than 10 s.
      const stepSeconds = q.stepSeconds || Math.max(10, Math.ceil((end - start) / 300));
      resolveRange({ start, end, stepSeconds }, now);
      const selector = parseSelector(q.selector);
      const window = { status: q.status, selector, type: q.type, name: q.name, labels: q.labels };
      // The whole fleet may have precomputed buckets (services/fleet-rollup.ts); filters never do.
      const wholeFleet =
        q.status === "" && selector.length === 0 && Object.keys(q.labels).length === 0;
      const buckets: FleetBucket[] = await (wholeFleet ? rolledFleetBuckets : exactFleetBuckets)(
        db,
        { ...window, start, end, stepSeconds },
      );
      return {
        stepSeconds,
        series: aggregates.map((aggregate) => ({
          aggregate,
          points: buckets.map((b) => ({ t: b.t, v: b[aggregate] })),
        })),
      };
    },

    /** A page of events, newest first; the token is the last event id of the previous page. */
    async listEvents(q: {
      nodeId: string;
      pageSize: number;
      pageToken: string;
    }): Promise<{ events: NodeEvent[]; nextPageToken: string }> {
      if (q.nodeId !== "") requireNodeId(q.nodeId);
      if (q.pageSize < 0 || q.pageSize > MAX_EVENTS_PAGE) {
        throw new InvalidArgumentError(
          "page_size",
          `must be 0–${MAX_EVENTS_PAGE}, got ${q.pageSize}`,
        );
      }
      const limit = q.pageSize || DEFAULT_EVENTS_PAGE;
      let beforeId = 0;
      if (q.pageToken) {
        const text = Buffer.from(q.pageToken, "base64url").toString("utf8");
        beforeId = /^[1-9][0-9]{0,15}$/.test(text) ? Number(text) : 0;
        if (!beforeId)
          throw new InvalidArgumentError("page_token", "not a token from a previous page");
      }
      const events = await listNodeEvents(db, { nodeId: q.nodeId, beforeId, limit });
      const last = events.length === limit ? events[events.length - 1] : undefined;
      return {
        events,
        nextPageToken: last ? Buffer.from(String(last.id), "utf8").toString("base64url") : "",
      };
    },
  };
}

export type FleetHistoryService = ReturnType<typeof createFleetHistoryService>;
