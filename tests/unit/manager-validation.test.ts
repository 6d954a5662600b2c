import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import {
  FleetError,
  type FleetErrorKind,
  InvalidArgumentError,
  NodeNotFoundError,
  OverloadedError,
  PermissionDeniedError,
  ResourceExhaustedError,
  StoreUnavailableError,
  UnauthenticatedError,
} from "../../src/common/errors.js";
import { createLogger } from "../../src/common/logging.js";
import { GrpcCode, KIND_TO_GRPC_CODE, kindOfGrpcCode } from "../../src/common/status-codes.js";
import type { MetricSample, NodeRegistration } from "../../src/common/types.js";
import {
  checkMetricSample,
  triageSamples,
  type ValidationLimits,
  validateHeartbeat,
  validateMetricsEnvelope,
  validateNodeId,
  validateRegistration,
} from "../../src/common/validation.js";
import { MANAGER_DEFAULTS, validationLimits } from "../../src/manager/config.js";
import { KIND_TO_CODE, toConnectError } from "../../src/manager/interceptors/errors.js";

const limits: ValidationLimits = validationLimits(MANAGER_DEFAULTS);
const NOW = 1_800_000_000;

const reg = (over: Partial<NodeRegistration> = {}): NodeRegistration => ({
  nodeId: "web-1",
  hostname: "web-1.example",
  ip: "10.0.0.1",
  os: "linux",
  arch: "x64",
  labels: { env: "prod" },
  daemonVersion: "1.0.0",
  agentVersion: "",
  ...over,
});
const sample = (over: Partial<MetricSample> = {}): MetricSample => ({
  type: "cpu",
  timestamp: NOW,
  values: { usage_percent: 1 },
  labels: {},
  ...over,
});
const invalid = (fn: () => void) => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidArgumentError);
    return (err as Error).message;
  }
  throw new Error("expected InvalidArgumentError");
};

describe("node_id", () => {
  it("accepts 1–128 characters of [A-Za-z0-9._:-]", () => {
    validateNodeId("a", limits);
    validateNodeId("Az09._:-".padEnd(128, "x"), limits);
  });
  it("rejects empty, too long and bad characters with field, problem and limit", () => {
    expect(invalid(() => validateNodeId("", limits))).toBe(
      "node_id: must be 1–128 characters, got 0",
    );
    expect(invalid(() => validateNodeId("x".repeat(129), limits))).toBe(
      "node_id: must be 1–128 characters, got 129",
    );
    expect(invalid(() => validateNodeId("web/1", limits))).toBe(
      'node_id: must contain only [A-Za-z0-9._:-], got "/" in "web/1"',
    );
    expect(invalid(() => validateNodeId("wéb", limits))).toContain('got "é"');
  });
  it("follows the configured limit", () => {
    expect(invalid(() => validateNodeId("abcd", { ...limits, nodeIdMaxLength: 3 }))).toBe(
      "node_id: must be 1–3 characters, got 4",
    );
  });
});

describe("registration", () => {
  it("accepts a normal registration, an empty ip and IPv6", () => {
    validateRegistration(reg(), limits);
    validateRegistration(reg({ ip: "" }), limits);
    validateRegistration(reg({ ip: "fe80::1" }), limits);
  });
  it.each([
    [{ hostname: "h".repeat(256) }, "hostname: must be at most 255 characters, got 256"],
    [{ ip: "10.0.0.256" }, 'ip: must be an IPv4 or IPv6 address or empty, got "10.0.0.256"'],
    [{ ip: "host.example" }, 'ip: must be an IPv4 or IPv6 address or empty, got "host.example"'],
    [{ os: "o".repeat(256) }, "os: must be at most 255 characters, got 256"],
    [{ arch: "a".repeat(300) }, "arch: must be at most 255 characters, got 300"],
    [{ daemonVersion: "v".repeat(256) }, "daemon_version: must be at most 255 characters, got 256"],
    [{ agentVersion: "v".repeat(256) }, "agent_version: must be at most 255 characters, got 256"],
    [
      { labels: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, "v"])) },
      "labels: must have at most 64 pairs, got 65",
    ],
    [{ labels: { ["k".repeat(64)]: "v" } }, "must be 1–63 characters, got 64"],
    [
      { labels: { "9lives": "v" } },
      'labels: key "9lives" must match [A-Za-z_][A-Za-z0-9_]* and not start with "__"',
    ],
    [{ labels: { "kubernetes.io/role": "x" } }, 'key "kubernetes.io/role" must match'],
    [
      { labels: { __name__: "x" } },
      'key "__name__" must match [A-Za-z_][A-Za-z0-9_]* and not start with "__"',
    ],
    [
      { labels: { env: "v".repeat(256) } },
      'labels["env"]: value must be at most 255 characters, got 256',
    ],
  ] as [Partial<NodeRegistration>, string][])("rejects %j", (over, message) => {
    expect(invalid(() => validateRegistration(reg(over), limits))).toContain(message);
  });
  it("accepts exactly the limits", () => {
    validateRegistration(
      reg({
        hostname: "h".repeat(255),
        labels: {
          ...Object.fromEntries(Array.from({ length: 63 }, (_, i) => [`k${i}`, "v".repeat(255)])),
          ["k".repeat(63)]: "",
        },
      }),
      limits,
    );
  });
});

describe("heartbeat and ReportMetrics envelope", () => {
  it("rejects a negative heartbeat timestamp", () => {
    expect(invalid(() => validateHeartbeat("n1", -5, limits))).toBe(
      "timestamp: must be Unix seconds ≥ 0, got -5",
    );
    validateHeartbeat("n1", 0, limits);
  });
  it("rejects more than 5000 metrics per request", () => {
    validateMetricsEnvelope("n1", 5000, limits);
    expect(invalid(() => validateMetricsEnvelope("n1", 5001, limits))).toBe(
      "metrics: must hold at most 5000 entries, got 5001",
    );
    expect(invalid(() => validateMetricsEnvelope("", 1, limits))).toBe(
      "node_id: must be 1–128 characters, got 0",
    );
  });
});

describe("metric entries", () => {
  const problem = (over: Partial<MetricSample>) => checkMetricSample(sample(over), 2, limits, NOW);
  it("accepts valid entries at the limits", () => {
    expect(problem({})).toBeUndefined();
    expect(problem({ type: `a${"b".repeat(62)}` })).toBeUndefined();
    expect(
      problem({ values: Object.fromEntries(Array.from({ length: 512 }, (_, i) => [`v${i}`, i])) }),
    ).toBeUndefined();
    expect(problem({ timestamp: NOW - 30 * 86_400 })).toBeUndefined();
    expect(problem({ timestamp: NOW + 300 })).toBeUndefined();
  });
  it.each([
    [{ type: "" }, "metrics[2].type: must be 1–63 characters, got 0"],
    [{ type: `a${"b".repeat(63)}` }, "metrics[2].type: must be 1–63 characters, got 64"],
    [{ type: "Cpu" }, 'metrics[2].type: must match [a-z][a-z0-9_]*, got "Cpu"'],
    [{ type: "cpu-usage" }, 'metrics[2].type: must match [a-z][a-z0-9_]*, got "cpu-usage"'],
    [
      { timestamp: NOW - 30 * 86_400 - 1 },
      `metrics[2].timestamp: must be within the retention window (≥ ${NOW - 2_592_000}, 2592000s ago), got ${NOW - 2_592_001}`,
    ],
    [
      { timestamp: NOW + 301 },
      `metrics[2].timestamp: must be at most 300s in the future (≤ ${NOW + 300}), got ${NOW + 301}`,
    ],
    [{ values: {} }, "metrics[2].values: must hold at least 1 value, got 0"],
    [
      { values: Object.fromEntries(Array.from({ length: 513 }, (_, i) => [`v${i}`, i])) },
      "metrics[2].values: must hold at most 512 values, got 513",
    ],
    [{ values: { a: Number.NaN } }, 'metrics[2].values["a"]: must be finite, got NaN'],
    [
      { values: { a: Number.POSITIVE_INFINITY } },
      'metrics[2].values["a"]: must be finite, got Infinity',
    ],
    [{ values: { ["n".repeat(129)]: 1 } }, "must be 1–128 characters, got 129"],
    [{ labels: { "bad key": "x" } }, 'metrics[2].labels: key "bad key" must match'],
    [
      { labels: { mount: "m".repeat(256) } },
      'metrics[2].labels["mount"]: value must be at most 255 characters, got 256',
    ],
  ] as [Partial<MetricSample>, string][])("rejects %j", (over, message) => {
    expect(problem(over)).toContain(message);
  });
  it("triages a batch: valid entries kept, rejected counted, first reasons kept", () => {
    const t = triageSamples(
      [
        sample(),
        sample({ type: "X" }),
        sample({ values: { a: Number.NaN } }),
        sample({ timestamp: 1 }),
        sample({ type: "" }),
        sample({ type: "mem" }),
      ],
      limits,
      NOW,
    );
    expect(t.valid.map((s) => s.type)).toEqual(["cpu", "mem"]);
    expect(t.rejected).toBe(4);
    expect(t.reasons).toHaveLength(3);
    expect(t.reasons[0]).toMatch(/^metrics\[1\]\.type:/);
    expect(t.reasons[1]).toMatch(/^metrics\[2\]\.values\["a"\]: must be finite/);
    expect(t.reasons[2]).toMatch(/^metrics\[3\]\.timestamp: must be within the retention window/);
  });
});

describe("status codes: one table, both directions", () => {
  const cases: [FleetError, Code][] = [
    [new InvalidArgumentError("node_id", "bad"), Code.InvalidArgument],
    [new NodeNotFoundError("n1"), Code.NotFound],
    [new PermissionDeniedError("certificate is for n2, not n1", "node_id"), Code.PermissionDenied],
    [new UnauthenticatedError("missing enrollment token"), Code.Unauthenticated],
    [new ResourceExhaustedError("too many requests"), Code.ResourceExhausted],
    [new OverloadedError("shutting down"), Code.Unavailable],
    [new StoreUnavailableError("database down"), Code.Unavailable],
    [new FleetError("deadline_exceeded", "too slow"), Code.DeadlineExceeded],
    [new FleetError("internal", "bug"), Code.Internal],
  ];
  const logger = createLogger("test", "silent");
  it.each(cases)("%s → its code, message kept", (err, code) => {
    const ce = toConnectError(err, logger, "/x");
    expect(ce.code).toBe(code);
    expect(ce.rawMessage).toBe(err.message);
    expect(ce.cause).toBe(err);
  });
  it("maps anything unknown to Internal without leaking its message", () => {
    const ce = toConnectError(new Error("secret detail"), logger, "/x");
    expect(ce.code).toBe(Code.Internal);
    expect(ce.rawMessage).toBe("internal error");
  });
  it("is DESIGN §1.2's table, in Connect's numbering, and reads back to the same kind", () => {
    // DESIGN §1.2, condition by condition (written out here, not read from the table under test).
    const design: Record<FleetErrorKind, Code> = {
      invalid_argument: Code.InvalidArgument, // malformed request
      not_found: Code.NotFound, // node the manager does not know
      permission_denied: Code.PermissionDenied, // identity does not match node_id
      unauthenticated: Code.Unauthenticated, // missing/invalid credentials
      resource_exhausted: Code.ResourceExhausted, // per-node rate or size limit
      unavailable: Code.Unavailable, // database down, shutting down, overloaded
      deadline_exceeded: Code.DeadlineExceeded, // deadline passed
      internal: Code.Internal, // bug
    };
    expect(KIND_TO_CODE).toEqual(design);
    // Kind → code → kind is the identity, so no two kinds share a code.
    for (const kind of Object.keys(design) as FleetErrorKind[])
      expect(kindOfGrpcCode(KIND_TO_CODE[kind])).toBe(kind);
    expect(new Set(Object.values(KIND_TO_GRPC_CODE)).size).toBe(Object.keys(design).length);
    // common/ numbers the codes itself; they must be Connect's (and gRPC's).
    for (const [name, n] of Object.entries(GrpcCode)) {
      if (name !== "Ok") expect(Code[n as Code]).toBe(name);
    }
    // Every code a client can receive reads as some kind; codes the manager never sends, the nearest.
    for (const n of Object.values(GrpcCode))
      expect(Object.keys(design)).toContain(kindOfGrpcCode(n));
    expect(kindOfGrpcCode(GrpcCode.Aborted)).toBe("unavailable");
    expect(kindOfGrpcCode(GrpcCode.OutOfRange)).toBe("invalid_argument");
    expect(kindOfGrpcCode(GrpcCode.DataLoss)).toBe("internal");
    expect(kindOfGrpcCode(99)).toBe("internal");
  });
  it("names messages after the field", () => {
    expect(new NodeNotFoundError("n1").message).toBe('node_id: node "n1" is not registered');
    expect(new NodeNotFoundError("n1").field).toBe("node_id");
  });
});
