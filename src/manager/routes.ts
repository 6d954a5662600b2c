import type { ConnectRouter } from "@connectrpc/connect";
import { FleetService } from "../../gen/fleet/v1/fleet_pb.js";
import { ManagerService } from "../../gen/manager/manager_pb.js";
import { createGetNodeHandler } from "./handlers/get-node.js";
import { createHeartbeatHandler } from "./handlers/heartbeat.js";
import { createListNodesHandler } from "./handlers/list-nodes.js";
import { createRegisterNodeHandler, type PacingSource } from "./handlers/register-node.js";
import { createReportMetricsHandler } from "./handlers/report-metrics.js";
import type { MetricsService } from "./services/metrics.js";
import type { NodeService } from "./services/nodes.js";

export interface Services {
  nodes: NodeService;
  metrics: MetricsService;
  pacing: PacingSource;
}

/** Daemon-facing service (gRPC port only). */
export function managerRoutes(s: Services) {
  return (router: ConnectRouter) => {
    router.service(ManagerService, {
      registerNode: createRegisterNodeHandler(s.nodes, s.pacing),
      heartbeat: createHeartbeatHandler(s.nodes, s.pacing),
      reportMetrics: createReportMetricsHandler(s.metrics),
    });
  };
}

/** People- and tool-facing service (both ports). */
export function fleetRoutes(s: Services) {
  return (router: ConnectRouter) => {
    router.service(FleetService, {
      listNodes: createListNodesHandler(s.nodes),
      getNode: createGetNodeHandler(s.nodes),
    });
  };
}
