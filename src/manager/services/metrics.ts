import { NodeNotFoundError } from "../../common/errors.js";
import type { MetricSample } from "../../common/types.js";
import type { Database } from "../db/client.js";
import { insertMetrics } from "../db/queries/metrics.js";
import { findNode } from "../db/queries/nodes.js";

export interface IngestResult {
  accepted: number;
  /** Rows that were new (a retried batch stores 0). */
  stored: number;
}

/** Metric ingest: committed before it returns. */
export function createMetricsService(db: Database) {
  return {
    async report(nodeId: string, samples: readonly MetricSample[]): Promise<IngestResult> {
      if (!(await findNode(db, nodeId))) throw new NodeNotFoundError(nodeId);
      const stored = await insertMetrics(db, nodeId, samples);
      return { accepted: samples.length, stored };
    },
  };
}

export type MetricsService = ReturnType<typeof createMetricsService>;
