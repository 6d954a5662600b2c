import { InvalidArgumentError, NodeNotFoundError } from "../../common/errors.js";
import type { Labels, LatestMetric, MetricWindow, Node } from "../../common/types.js";
import type { Database } from "../db/client.js";
import { allNodes, deleteNode, type FleetCounts, fleetCounts } from "../db/queries/fleet-nodes.js";
import {
  latestMetricRows,
  nodeMetricTypes,
  queryMetricRange,
} from "../db/queries/metrics-query.js";
import { findNode } from "../db/queries/nodes.js";
import type { KnownNodes } from "./known-nodes.js";

/** 9999-12-31T23:59:59Z: the last second PostgreSQL timestamps and JavaScript dates agree on. */
const MAX_UNIX_SECONDS = 253_402_300_799;

/** Most buckets one QueryMetrics call may ask for (a year at 1 h is 8,760). */
export const MAX_BUCKETS = 11_000;
/** Most raw points one QueryMetrics call returns; larger ranges need step_seconds. */
export const MAX_RAW_POINTS = 20_000;
/** Series silent for longer than this are left out of /metrics/fleet. */
export const EXPOSITION_WINDOW_SECONDS = 15 * 60;

/** As asked over the wire: start 0 means end − 1 h, end 0 means now. */
export interface MetricsQuery extends MetricWindow {
  nodeId: string;
}

export interface MetricSeries {
  labels: Labels;
  points: { t: number; v: number }[];
}

/** Read side of the fleet for people and tools: metrics ranges, summaries, deletion. */
export function createFleetQueryService(db: Database, deps: { known?: KnownNodes } = {}) {
  return {
    /**
     * Removes the node and its metrics; NodeNotFoundError when unknown. This
     * replica forgets it at once (others when their cache entry expires, and
     * their ingest answers NOT_FOUND meanwhile).
     */
    async deleteNode(nodeId: string, now = new Date()): Promise<void> {
      requireNodeId(nodeId);
      const deleted = await deleteNode(db, nodeId, now);
      deps.known?.forget(nodeId);
      if (!deleted) throw new NodeNotFoundError(nodeId);
    },

    /** A value over time per label set, averaged into buckets in SQL when a step is given. */
    async queryMetrics(
      q: MetricsQuery,
      now = new Date(),
    ): Promise<{ series: MetricSeries[]; stepSeconds: number; nodeTypes: string[] }> {
      requireNodeId(q.nodeId);
      if (q.type === "") throw new InvalidArgumentError("type", "must be set, e.g. cpu");
      if (q.name === "") throw new InvalidArgumentError("name", "must be set, e.g. usage_percent");
      const { start, end } = resolveRange(q, now);
      if (!(await findNode(db, q.nodeId))) throw new NodeNotFoundError(q.nodeId);
      // Buckets × label sets can exceed MAX_BUCKETS; allow a generous multiple before refusing.
      const limit = q.stepSeconds > 0 ? MAX_BUCKETS * 16 : MAX_RAW_POINTS;
      const rows = await queryMetricRange(db, {
        ...q,
        start,
        end,
        limit: limit + 1,
      });
      if (rows.length > limit) {
        throw new InvalidArgumentError(
          q.stepSeconds > 0 ? "labels" : "step_seconds",
          q.stepSeconds > 0
            ? `more than ${limit} points across series; narrow the labels filter`
            : `more than ${limit} raw points in range; set step_seconds to downsample`,
        );
      }
      const series: MetricSeries[] = [];
      let key = "";
      for (const r of rows) {
        const k = JSON.stringify(r.labels);
        if (series.length === 0 || k !== key) {
          series.push({ labels: r.labels, points: [] });
          key = k;
        }
        series[series.length - 1]?.points.push({ t: r.t, v: r.v });
      }
      // Nothing found: say which types exist, so "cpux" is told from a quiet hour.
      const nodeTypes = series.length === 0 ? await nodeMetricTypes(db, q.nodeId) : [];
      return { series, stepSeconds: q.stepSeconds, nodeTypes };
    },

    /** Counts by status, OS, architecture and daemon version. */
    async summary(): Promise<FleetCounts> {
      return fleetCounts(db);
    },

    /** Every node plus the newest row of each recently reported series. */
    async exposition(): Promise<{ nodes: Node[]; latest: LatestMetric[] }> {
      const [nodes, latest] = await Promise.all([
        allNodes(db),
        latestMetricRows(db, EXPOSITION_WINDOW_SECONDS),
      ]);
      return { nodes, latest };
    },
  };
}

/**
 * start/end with their defaults (end: now, start: end − 1 h), checked against
 * PostgreSQL's timestamp range, and the step against MAX_BUCKETS.
 */
export function resolveRange(
  q: { start: number; end: number; stepSeconds: number },
  now: Date,
): { start: number; end: number } {
  const end = q.end || Math.floor(now.getTime() / 1000);
  const start = q.start || end - 3600;
  // Outside PostgreSQL's timestamp range the query would fail as INTERNAL.
  for (const [field, v] of [
    ["start", start],
    ["end", end],
  ] as const) {
    if (!(v >= 0 && v <= MAX_UNIX_SECONDS)) {
      throw new InvalidArgumentError(
        field,
        `must be Unix seconds from 0 to ${MAX_UNIX_SECONDS}, got ${v}`,
      );
    }
  }
  if (start >= end) {
    throw new InvalidArgumentError("start", `must be before end (${end}), got ${start}`);
  }
  if (q.stepSeconds < 0) {
    throw new InvalidArgumentError("step_seconds", `must be 0 or more, got ${q.stepSeconds}`);
  }
  const buckets = q.stepSeconds > 0 ? Math.ceil((end - start) / q.stepSeconds) : 0;
  if (buckets > MAX_BUCKETS) {
    throw new InvalidArgumentError(
      "step_seconds",
      `range of ${end - start}s at step ${q.stepSeconds}s is ${buckets} buckets; the limit is ${MAX_BUCKETS}`,
    );
  }
  return { start, end };
}

export function requireNodeId(nodeId: string): void {
  const bytes = Buffer.byteLength(nodeId, "utf8");
  if (bytes < 1 || bytes > 128) {
    throw new InvalidArgumentError("node_id", `must be 1–128 bytes, got ${bytes}`);
  }
}

export type FleetQueryService = ReturnType<typeof createFleetQueryService>;
