import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { ManagerService } from "../../gen/manager/manager_pb.js";
import { FleetError } from "../../src/common/errors.js";
import { createLogger } from "../../src/common/logging.js";
import { MANAGER_DEFAULTS, validationLimits } from "../../src/manager/config.js";
import { asStoreUnavailable } from "../../src/manager/db/store-errors.js";
import { createInterceptorChain } from "../../src/manager/interceptors/chain.js";
import { createNotFoundGoaway } from "../../src/manager/interceptors/not-found-goaway.js";
import { MAX_STATUS_MESSAGE } from "../../src/manager/interceptors/status-message.js";
import { createAdmission, RateLimitedError } from "../../src/manager/services/admission.js";
import { createTelemetry } from "../../src/manager/telemetry.js";

const PUSHBACK = "grpc-retry-pushback-ms";

/** The real chain around a heartbeat handler that throws `failure`; returns what the client sees. */
async function heartbeatFailingWith(failure: unknown): Promise<ConnectError> {
  const logger = createLogger("test", "silent");
  const interceptors = createInterceptorChain({
    telemetry: createTelemetry(),
    admission: createAdmission(MANAGER_DEFAULTS.admission),
    goaway: createNotFoundGoaway({ after: 0, logger }),
    limits: validationLimits(MANAGER_DEFAULTS),
    auth: { apiToken: "", enrollToken: "", bindNodeIdentity: false },
    domainErrorOf: asStoreUnavailable,
    logger,
  });
  const transport = createRouterTransport(
    (router) =>
      router.service(ManagerService, {
        heartbeat() {
          throw failure;
        },
      }),
    { router: { interceptors } },
  );
  const client = createClient(ManagerService, transport);
  return client.heartbeat({ nodeId: "chain-1" }).then(
    () => {
      throw new Error("the heartbeat was expected to fail");
    },
    (err: unknown) => ConnectError.from(err),
  );
}

describe("interceptor chain contracts (interceptors/chain.ts)", () => {
  it("shed reads the rate limit's wait through the cause the error mapping keeps", async () => {
    // Longer than any pushback without it (pushback_min + pushback_spread).
    const waitMs = 60_000;
    const { pushbackMinMs, pushbackSpreadMs } = MANAGER_DEFAULTS.admission;
    expect(waitMs).toBeGreaterThan(pushbackMinMs + pushbackSpreadMs);
    const err = await heartbeatFailingWith(new RateLimitedError("node_id: slow down", waitMs));
    expect(err.code).toBe(Code.ResourceExhausted);
    expect(Number(err.metadata.get(PUSHBACK))).toBeGreaterThanOrEqual(waitMs);
  });

  it("a store failure reaches the client as UNAVAILABLE with a pushback, through domainErrorOf", async () => {
    const down = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), {
      code: "ECONNREFUSED",
    });
    const err = await heartbeatFailingWith(down);
    expect(err.code).toBe(Code.Unavailable);
    expect(err.rawMessage).toBe("database unavailable (ECONNREFUSED); retry later");
    expect(Number(err.metadata.get(PUSHBACK))).toBeGreaterThan(0);
  });

  it("every mapped status message is capped, whoever raised it", async () => {
    const err = await heartbeatFailingWith(new FleetError("invalid_argument", "x".repeat(5_000)));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.rawMessage).toBe(`${"x".repeat(MAX_STATUS_MESSAGE)}… (5000 characters)`);
  });
});
