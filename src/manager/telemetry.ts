import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { createRpcMetrics } from "./rpc-metrics.js";

/**
 * The manager's own Prometheus metrics (served at /metrics). One registry per
 * manager, so several managers in one process (tests) do not collide.
 */
export function createTelemetry() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "fleet_manager_" });
  // prom-client names these gauges `…_total`, which only counters may carry
  // (`promtool check metrics` fails); each is the sum of the by-type gauge of
  // the same name without the suffix, which stays.
  for (const what of ["handles", "requests", "resources"]) {
    registry.removeSingleMetric(`fleet_manager_nodejs_active_${what}_total`);
  }
  const rows = [1, 10, 100, 500, 1000, 5000, 10_000, 50_000];
  const seconds = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
  let nodeCounts: () => Record<string, number> = () => ({});
  return {
    registry,
    /** fleet_rpc_requests_total and fleet_rpc_duration_seconds (rpc-metrics.ts). */
    rpc: createRpcMetrics(registry, seconds),
    ingestBatchRows: new Histogram({
      name: "fleet_ingest_batch_rows",
      help: "Metric rows per group-commit statement",
      buckets: rows,
      registers: [registry],
    }),
    ingestBatchRequests: new Histogram({
      name: "fleet_ingest_batch_requests",
      help: "ReportMetrics requests merged into one group-commit statement",
      buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500],
      registers: [registry],
    }),
    ingestCommitSeconds: new Histogram({
      name: "fleet_ingest_commit_seconds",
      help: "Time to commit one group-commit statement",
      buckets: seconds,
      registers: [registry],
    }),
    ingestRows: new Counter({
      name: "fleet_ingest_rows_total",
      help: "Metric entries by outcome (stored, duplicate, rejected, failed)",
      labelNames: ["outcome"] as const,
      registers: [registry],
    }),
    heartbeatFlushSize: new Histogram({
      name: "fleet_heartbeat_flush_size",
      help: "Nodes whose last_seen one heartbeat flush wrote",
      buckets: rows,
      registers: [registry],
    }),
    heartbeatFlushSeconds: new Histogram({
      name: "fleet_heartbeat_flush_seconds",
      help: "Time to write one heartbeat flush",
      buckets: seconds,
      registers: [registry],
    }),
    livenessSweeps: new Counter({
      name: "fleet_liveness_sweeps_total",
      help: "Liveness sweeps run by this replica, by outcome (swept, held, restart_grace)",
      labelNames: ["outcome"] as const,
      registers: [registry],
    }),
    livenessTransitions: new Counter({
      name: "fleet_liveness_transitions_total",
      help: "Node status changes written by this replica",
      labelNames: ["kind"] as const,
      registers: [registry],
    }),
    livenessLeader: new Gauge({
      name: "fleet_liveness_leader",
      help: "1 while this replica holds the liveness sweeper's leader lease",
      registers: [registry],
    }),
    tlsExpiry: new Gauge({
      name: "fleet_tls_certificate_expiry_timestamp_seconds",
      help: "When the TLS certificate in force expires (Unix s), by role: server, client_ca (the earliest of the bundle)",
      labelNames: ["role"] as const,
      registers: [registry],
      aggregator: "min", // --workers: the earliest expiry any worker holds
    }),
    tlsReloads: new Counter({
      name: "fleet_tls_reloads_total",
      help: "Changed TLS files seen, by result: ok (new connections use them) or refused (the old pair stays)",
      labelNames: ["result"] as const,
      registers: [registry],
    }),
    http2Closed: new Counter({
      name: "fleet_http2_sessions_closed_total",
      help: "gRPC-port connections closed by the manager, by reason (idle, no_request, rapid_reset, oversized_headers)",
      labelNames: ["reason"] as const,
      registers: [registry],
    }),
    nodes: new Gauge({
      name: "fleet_nodes",
      help: "Nodes by status (flapping counts nodes also counted online or offline)",
      labelNames: ["status"] as const,
      registers: [registry],
      // --workers: every worker counts the same database; a sum would be N times the fleet.
      aggregator: "max",
      collect() {
        for (const [status, n] of Object.entries(nodeCounts())) this.set({ status }, n);
      },
    }),
    /** Where the nodes-by-status gauge reads its numbers (the liveness service's last count). */
    setNodeCountSource(source: () => Record<string, number>) {
      nodeCounts = source;
    },
  };
}

export type Telemetry = ReturnType<typeof createTelemetry>;
