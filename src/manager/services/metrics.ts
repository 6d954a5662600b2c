import type { MetricSample } from "../../common/types.js";
import { triageSamples, type ValidationLimits } from "../../common/validation.js";
import type { IngestBatcher } from "./ingest-batcher.js";
import type { KnownNodes } from "./known-nodes.js";

export interface IngestResult {
  accepted: number;
  rejected: number;
  /** The first rejection reasons (field, problem, limit). */
  reasons: string[];
}

/**
 * Metric ingest with partial success: entries that fail validation are
 * rejected and counted, the valid rest is group-committed; it returns only
 * after the commit.
 */
export function createMetricsService(deps: {
  known: KnownNodes;
  batcher: IngestBatcher;
  limits: ValidationLimits;
}) {
  return {
    async report(
      nodeId: string,
      samples: readonly MetricSample[],
      now = new Date(),
    ): Promise<IngestResult> {
      await deps.known.require(nodeId);
      const triage = triageSamples(samples, deps.limits, Math.floor(now.getTime() / 1000));
      await deps.batcher.submit(nodeId, triage.valid);
      return { accepted: triage.valid.length, rejected: triage.rejected, reasons: triage.reasons };
    },
  };
}

export type MetricsService = ReturnType<typeof createMetricsService>;
