import type { Interceptor } from "@connectrpc/connect";
import {
  type HeartbeatRequest,
  ManagerService,
  type RegisterNodeRequest,
  type ReportMetricsRequest,
} from "../../../gen/manager/manager_pb.js";
import {
  type ValidationLimits,
  validateHeartbeat,
  validateMetricsEnvelope,
  validateRegistration,
} from "../../common/validation.js";
import { checkingInterceptor } from "./check.js";

/**
 * Validates every ManagerService request before its handler runs, so handlers
 * do not repeat the checks: malformed envelopes fail with INVALID_ARGUMENT and
 * a message naming the field, the problem and the limit. Per-entry problems in
 * ReportMetrics are partial success, judged by the metrics service with the
 * same module (common/validation.ts). Request size is capped by readMaxBytes.
 */
export function createValidateInterceptor(limits: ValidationLimits): Interceptor {
  return checkingInterceptor((req) => {
    if (!req.stream) validate(req.method, req.message, limits);
  });
}

function validate(method: unknown, message: unknown, limits: ValidationLimits): void {
  switch (method) {
    case ManagerService.method.registerNode: {
      const m = message as RegisterNodeRequest;
      validateRegistration({ ...m, labels: { ...m.labels } }, limits);
      break;
    }
    case ManagerService.method.heartbeat: {
      const m = message as HeartbeatRequest;
      validateHeartbeat(m.nodeId, Number(m.timestamp), limits);
      break;
    }
    case ManagerService.method.reportMetrics: {
      const m = message as ReportMetricsRequest;
      validateMetricsEnvelope(m.nodeId, m.metrics.length, limits);
      break;
    }
  }
}
