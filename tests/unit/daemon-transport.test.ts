import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { ManagerService } from "../../gen/manager/manager_pb.js";
import { FleetError } from "../../src/common/errors.js";
import { KIND_TO_GRPC_CODE } from "../../src/common/status-codes.js";
import {
  createAttemptTimeoutInterceptor,
  createDeadlineInterceptor,
} from "../../src/daemon/transport/deadline.js";
import {
  CODE_POLICY,
  describeError,
  policyFor,
  toFleetError,
} from "../../src/daemon/transport/errors.js";
import {
  backoffDelayMs,
  createRetryInterceptor,
  decodeRetryInfoMs,
  type RetryOptions,
} from "../../src/daemon/transport/retry.js";

/** A scripted manager: each call takes the next outcome (an error code, or OK). */
function scripted(outcomes: (Code | "ok" | ConnectError)[], retry: Partial<RetryOptions> = {}) {
  const calls: number[] = [];
  const delays: number[] = [];
  const transport = createRouterTransport(
    (router) =>
      router.service(ManagerService, {
        heartbeat() {
          const o = outcomes[calls.length] ?? "ok";
          calls.push(Date.now());
          if (o === "ok") return { success: true };
          throw o instanceof ConnectError ? o : new ConnectError(`scripted ${Code[o]}`, o);
        },
      }),
    {
      transport: {
        interceptors: [
          createRetryInterceptor({
            maxAttempts: 4,
            baseDelayMs: 100,
            maxDelayMs: 250,
            maxElapsedMs: 10_000,
            random: () => 1,
            sleep: async (ms) => {
              delays.push(ms);
            },
            ...retry,
          }),
        ],
      },
    },
  );
  return { client: createClient(ManagerService, transport), calls, delays };
}

describe("retry interceptor", () => {
  it("retries UNAVAILABLE with exponential backoff up to maxAttempts, then fails", async () => {
    const s = scripted([Code.Unavailable, Code.Unavailable, Code.Unavailable, Code.Unavailable]);
    const err = await s.client.heartbeat({ nodeId: "n" }).catch((e: unknown) => e);
    expect(ConnectError.from(err).code).toBe(Code.Unavailable);
    expect(s.calls).toHaveLength(4);
    // random() = 1 shows the ceilings: 100, 200, then capped at 250.
    expect(s.delays).toEqual([100, 200, 250]);
  });

  it("succeeds when a retry does", async () => {
    const s = scripted([Code.Unavailable, Code.ResourceExhausted, "ok"]);
    await expect(s.client.heartbeat({ nodeId: "n" })).resolves.toMatchObject({ success: true });
    expect(s.calls).toHaveLength(3);
  });

  it.each([Code.InvalidArgument, Code.PermissionDenied, Code.NotFound, Code.Unauthenticated])(
    "does not retry %s",
    async (code) => {
      const s = scripted([code, "ok"]);
      const err = await s.client.heartbeat({ nodeId: "n" }).catch((e: unknown) => e);
      expect(ConnectError.from(err).code).toBe(code);
      expect(s.calls).toHaveLength(1);
    },
  );

  it("full jitter: every delay is within [0, min(max, base·2^(n−1))]", () => {
    for (let attempt = 1; attempt <= 10; attempt++) {
      for (let i = 0; i < 200; i++) {
        const d = backoffDelayMs(attempt, 100, 5_000);
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThanOrEqual(Math.min(5_000, 100 * 2 ** (attempt - 1)));
      }
    }
    expect(backoffDelayMs(3, 100, 5_000, () => 0)).toBe(0);
  });

  it("honours server pushback over its own backoff, and stops on a negative one", async () => {
    const push = (ms: string) =>
      new ConnectError("busy", Code.ResourceExhausted, { "grpc-retry-pushback-ms": ms });
    const s = scripted([push("1700"), "ok"]);
    await s.client.heartbeat({ nodeId: "n" });
    expect(s.delays).toEqual([1700]);
    const stop = scripted([push("-1"), "ok"]);
    await expect(stop.client.heartbeat({ nodeId: "n" })).rejects.toThrow(/busy/);
    expect(stop.calls).toHaveLength(1);
  });

  it("reads a google.rpc.RetryInfo delay", () => {
    // RetryInfo{retry_delay: Duration{seconds: 2, nanos: 500_000_000}}
    const duration = [0x08, 0x02, 0x10, 0x80, 0xca, 0xb5, 0xee, 0x01];
    expect(decodeRetryInfoMs(new Uint8Array([0x0a, duration.length, ...duration]))).toBe(2500);
    expect(decodeRetryInfoMs(new Uint8Array([0x0a, 0x05, 0x08]))).toBeUndefined();
  });

  it("is bounded in time: no attempt starts after maxElapsedMs", async () => {
    let clock = 0;
    const s = scripted([Code.Unavailable, Code.Unavailable, Code.Unavailable], {
      maxAttempts: 10,
      maxElapsedMs: 250,
      now: () => clock,
      sleep: async (ms) => {
        clock += ms;
      },
    });
    await expect(s.client.heartbeat({ nodeId: "n" })).rejects.toThrow();
    // 100 + 200 would end at 300 ms > 250: the second retry never starts.
    expect(s.calls).toHaveLength(2);
  });
});

describe("deadline interceptor", () => {
  it("aborts an attempt at manager.timeout with DEADLINE_EXCEEDED and tells the server", async () => {
    let seenTimeout: string | null = null;
    const transport = createRouterTransport(
      (router) =>
        router.service(ManagerService, {
          async heartbeat(_req, ctx) {
            seenTimeout = ctx.requestHeader.get("grpc-timeout");
            await new Promise((r) => setTimeout(r, 5_000));
            return { success: true };
          },
        }),
      { transport: { interceptors: [createDeadlineInterceptor(150)] } },
    );
    const client = createClient(ManagerService, transport);
    const t0 = Date.now();
    const err = await client.heartbeat({ nodeId: "n" }).catch((e: unknown) => e);
    const took = Date.now() - t0;
    expect(ConnectError.from(err).code).toBe(Code.DeadlineExceeded);
    expect(took).toBeGreaterThanOrEqual(140);
    expect(took).toBeLessThan(1_500);
    expect(seenTimeout).toBe("150m");
  });

  it("bounds the whole call, retries included; each attempt gets the time left and says so", async () => {
    const seen: number[] = [];
    let calls = 0;
    const transport = createRouterTransport(
      (router) =>
        router.service(ManagerService, {
          async heartbeat(_req, ctx) {
            calls++;
            seen.push(Number(ctx.requestHeader.get("grpc-timeout")?.replace(/m$/, "")));
            await new Promise((r) => setTimeout(r, 60));
            if (calls < 3) throw new ConnectError("down", Code.Unavailable);
            return { success: true };
          },
        }),
      {
        transport: {
          interceptors: [
            createDeadlineInterceptor(1_000),
            createRetryInterceptor({ baseDelayMs: 10, maxDelayMs: 10 }),
            createAttemptTimeoutInterceptor(),
          ],
        },
      },
    );
    await expect(createClient(ManagerService, transport).heartbeat({})).resolves.toMatchObject({
      success: true,
    });
    expect(calls).toBe(3);
    // Every attempt tells the server what is left of the one deadline, less each time.
    expect(seen[0]).toBeLessThanOrEqual(1_000);
    expect(seen[1]).toBeLessThan(seen[0] as number);
    expect(seen[2]).toBeLessThan(seen[1] as number);
    expect(seen[2]).toBeLessThanOrEqual(1_000 - 2 * 60);
  });

  it("never runs past manager.timeout, however many attempts are allowed", async () => {
    let calls = 0;
    const transport = createRouterTransport(
      (router) =>
        router.service(ManagerService, {
          async heartbeat() {
            calls++;
            await new Promise((r) => setTimeout(r, calls === 1 ? 50 : 2_000));
            throw new ConnectError("down", Code.Unavailable);
          },
        }),
      {
        transport: {
          interceptors: [
            createDeadlineInterceptor(300),
            createRetryInterceptor({ maxAttempts: 10, baseDelayMs: 10, maxDelayMs: 10 }),
            createAttemptTimeoutInterceptor(),
          ],
        },
      },
    );
    const t0 = Date.now();
    const err = await createClient(ManagerService, transport)
      .heartbeat({})
      .catch((e: unknown) => e);
    const took = Date.now() - t0;
    expect(ConnectError.from(err).code).toBe(Code.DeadlineExceeded);
    // The first attempt failed fast and was retried; the second ran into the call's deadline.
    expect(calls).toBe(2);
    expect(took).toBeGreaterThanOrEqual(290);
    expect(took).toBeLessThan(1_000);
  });

  it("does not retry when the backoff would outlast the call's deadline", async () => {
    let calls = 0;
    const transport = createRouterTransport(
      (router) =>
        router.service(ManagerService, {
          heartbeat() {
            calls++;
            throw new ConnectError("down", Code.Unavailable);
          },
        }),
      {
        transport: {
          interceptors: [
            createDeadlineInterceptor(200),
            createRetryInterceptor({ baseDelayMs: 5_000, maxDelayMs: 5_000, random: () => 1 }),
            createAttemptTimeoutInterceptor(),
          ],
        },
      },
    );
    const err = await createClient(ManagerService, transport)
      .heartbeat({})
      .catch((e: unknown) => e);
    // The real cause, right away, not a DEADLINE_EXCEEDED after a pointless wait.
    expect(ConnectError.from(err).code).toBe(Code.Unavailable);
    expect(calls).toBe(1);
  });
});

describe("a failed call through the daemon's interceptors", () => {
  it("comes out as the manager's ConnectError, read by the loops' policy and the shared kind", async () => {
    const transport = createRouterTransport(
      (router) =>
        router.service(ManagerService, {
          heartbeat() {
            throw new ConnectError("node n is not registered", Code.NotFound, {
              "grpc-retry-pushback-ms": "5",
            });
          },
          reportMetrics() {
            throw new ConnectError("metrics[0].type: bad", Code.InvalidArgument);
          },
        }),
      {
        transport: {
          interceptors: [
            createDeadlineInterceptor(1_000),
            createRetryInterceptor({ baseDelayMs: 1, maxDelayMs: 1 }),
            createAttemptTimeoutInterceptor(),
          ],
        },
      },
    );
    const client = createClient(ManagerService, transport);
    const nf = await client.heartbeat({ nodeId: "n" }).catch((e: unknown) => e);
    expect(nf).toBeInstanceOf(ConnectError);
    expect((nf as ConnectError).code).toBe(Code.NotFound);
    expect(policyFor(nf).reaction).toBe("reregister");
    expect((nf as ConnectError).metadata.get("grpc-retry-pushback-ms")).toBe("5");
    expect(toFleetError(nf)).toBeInstanceOf(FleetError);
    expect(toFleetError(nf).kind).toBe("not_found");
    expect(toFleetError(nf).cause).toBe(nf);
    expect(describeError(nf)).toBe("[NotFound] node n is not registered");
    const bad = await client.reportMetrics({ nodeId: "n" }).catch((e: unknown) => e);
    expect(policyFor(bad).reaction).toBe("drop");
    expect(toFleetError(bad).kind).toBe("invalid_argument");
  });
});

describe("error table (DESIGN §1.2)", () => {
  it("has one reaction for every code", () => {
    const codes = Object.values(Code).filter((c): c is Code => typeof c === "number");
    for (const c of codes) expect(CODE_POLICY[c], Code[c]).toBeDefined();
  });

  it("matches the design's reactions", () => {
    expect(CODE_POLICY[Code.InvalidArgument]).toMatchObject({
      reaction: "drop",
      retryInCall: false,
    });
    expect(CODE_POLICY[Code.NotFound]).toMatchObject({
      reaction: "reregister",
      retryInCall: false,
    });
    expect(CODE_POLICY[Code.PermissionDenied]).toMatchObject({ retryInCall: false, loud: true });
    expect(CODE_POLICY[Code.Unauthenticated]).toMatchObject({ reaction: "backoff", loud: true });
    for (const c of [Code.ResourceExhausted, Code.Unavailable, Code.Internal])
      expect(CODE_POLICY[c]).toMatchObject({ reaction: "backoff", retryInCall: true });
    expect(CODE_POLICY[Code.DeadlineExceeded]).toMatchObject({
      reaction: "retry",
      retryInCall: true,
    });
  });

  it("reads the manager's kind ↔ code table in reverse", () => {
    for (const [kind, code] of Object.entries(KIND_TO_GRPC_CODE))
      expect(CODE_POLICY[code as Code].kind).toBe(kind);
  });

  it("maps ConnectError to the shared FleetError taxonomy, keeping the cause", () => {
    const ce = new ConnectError('node_id: node "x" is not registered', Code.NotFound);
    const fe = toFleetError(ce);
    expect(fe).toBeInstanceOf(FleetError);
    expect(fe.kind).toBe("not_found");
    expect(fe.cause).toBe(ce);
    expect(fe.message).toBe('[NotFound] node_id: node "x" is not registered');
    expect(toFleetError(new Error("boom")).kind).toBe("internal");
    expect(
      describeError(
        new ConnectError(
          "x",
          Code.Unavailable,
          undefined,
          undefined,
          Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" }),
        ),
      ),
    ).toMatch(/nothing listens at manager.address/);
  });
});
