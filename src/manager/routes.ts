import type { ConnectRouter } from "@connectrpc/connect";
import { FleetService } from "../../gen/fleet/v1/fleet_pb.js";
import { Health } from "../../gen/grpc/health/v1/health_pb.js";
import { ManagerService } from "../../gen/manager/manager_pb.js";
import { createDeleteNodeHandler } from "./handlers/delete-node.js";
import { createGetFleetSummaryHandler } from "./handlers/get-fleet-summary.js";
import { createGetNodeHandler } from "./handlers/get-node.js";
import { createHealthHandlers } from "./handlers/health.js";
import { createHeartbeatHandler } from "./handlers/heartbeat.js";
import { createListNodeEventsHandler } from "./handlers/list-node-events.js";
import { createListNodesHandler } from "./handlers/list-nodes.js";
import { createQueryFleetMetricsHandler } from "./handlers/query-fleet-metrics.js";
import { createQueryMetricsHandler } from "./handlers/query-metrics.js";
import { createRegisterNodeHandler, type PacingSource } from "./handlers/register-node.js";
import { createReportMetricsHandler } from "./handlers/report-metrics.js";
import { createWatchNodesHandler } from "./handlers/watch-nodes.js";
import type { NotFoundGoaway } from "./interceptors/not-found-goaway.js";
import type { FleetHistoryService } from "./services/fleet-history.js";
import type { FleetQueryService } from "./services/fleet-query.js";
import type { MetricsService } from "./services/metrics.js";
import type { NodeWatchHub } from "./services/node-watch.js";
import type { NodeService } from "./services/nodes.js";
import type { ServingState } from "./services/serving-state.js";

export interface Services {
  /** Registrations reset a connection's NOT_FOUND count (interceptors/not-found-goaway.ts). */
  goaway: Pick<NotFoundGoaway, "registered">;
  nodes: NodeService;
  metrics: MetricsService;
  pacing: PacingSource;
  fleet: FleetQueryService;
  history: FleetHistoryService;
  watch: NodeWatchHub;
}

/** Daemon-facing service (gRPC port only). */
export function managerRoutes(s: Services) {
  return (router: ConnectRouter) => {
    router.service(ManagerService, {
      registerNode: createRegisterNodeHandler(s.nodes, s.pacing, s.goaway),
      heartbeat: createHeartbeatHandler(s.nodes, s.pacing),
      reportMetrics: createReportMetricsHandler(s.metrics),
    });
  };
}

/** People- and tool-facing service (both ports). */
export function fleetRoutes(s: Services) {
  return (router: ConnectRouter) => {
    router.service(FleetService, {
      listNodes: createListNodesHandler(s.nodes, s.pacing),
      getNode: createGetNodeHandler(s.nodes, s.pacing),
      deleteNode: createDeleteNodeHandler(s.fleet),
      queryMetrics: createQueryMetricsHandler(s.fleet),
      getFleetSummary: createGetFleetSummaryHandler(s.fleet),
      watchNodes: createWatchNodesHandler(s.watch, s.pacing),
      queryFleetMetrics: createQueryFleetMetricsHandler(s.history),
      listNodeEvents: createListNodeEventsHandler(s.history),
    });
  };
}

/** grpc.health.v1.Health (gRPC port). */
export function healthRoutes(serving: ServingState) {
  return (router: ConnectRouter) => {
    router.service(Health, createHealthHandlers(serving));
  };
}
