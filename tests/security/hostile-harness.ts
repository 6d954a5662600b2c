import http2 from "node:http2";
import net from "node:net";
import { type DescEnum, type DescField, type DescMessage, ScalarType } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { sql } from "drizzle-orm";
import fc from "fast-check";
import { expect } from "vitest";
import { encodeGrpcFrame } from "../../src/common/grpc-frame.js";
import type { Manager } from "../../src/manager/server.js";

/**
 * Codes a hostile request may end in. INTERNAL/UNKNOWN would be a bug (a
 * crash path), UNAVAILABLE an overload the suite never causes.
 */
export const ACCEPTED_ERRORS = new Set<Code>([
  Code.InvalidArgument,
  Code.NotFound,
  Code.ResourceExhausted,
  Code.Unimplemented,
  Code.OutOfRange,
  Code.FailedPrecondition,
  Code.Unauthenticated,
  Code.PermissionDenied,
]);

/**
 * connect-es answers INTERNAL for bytes it cannot parse or decompress on the
 * Connect and gRPC paths ("parse binary: premature EOF", "protocol error: …",
 * "received compressed envelope…"): a valid status from the library, before
 * our code runs, so it is accepted here by its message.
 */
export function isProtocolError(code: number, message: string): boolean {
  return (
    code === Code.Internal &&
    /^(parse (binary|json)|protocol error|received compressed envelope|failed to decompress|decompression failed|cannot decode)/i.test(
      message,
    )
  );
}

/** Row counts of every table a request could write. */
export async function rowCounts(manager: Manager): Promise<string> {
  const r = await manager.database.db.execute(
    sql`select (select count(*) from nodes) as n, (select count(*) from metrics) as m, (select count(*) from node_events) as e`,
  );
  const rows = (Array.isArray(r) ? r : (r as { rows: unknown[] }).rows) as Record<
    string,
    unknown
  >[];
  const row = rows[0] ?? {};
  return `${row.n}/${row.m}/${row.e}`;
}

/**
 * Counts cases; each one must end in OK or an accepted code, and a rejected
 * one must write nothing. The counts after a rejected case are the counts
 * before the next one (nothing else writes rows meanwhile in these tests), so
 * a run of rejected cases costs one count each; a late write by a rejected
 * call still fails the run, at the next case.
 */
export function createCaseRunner(manager: Manager) {
  let cases = 0;
  let rejected = 0;
  let settled: string | undefined;
  return {
    get cases() {
      return cases;
    },
    get rejected() {
      return rejected;
    },
    /** Runs one RPC case. */
    async rpc(label: string, call: () => Promise<unknown>): Promise<"ok" | Code> {
      cases++;
      const before = settled ?? (await rowCounts(manager));
      settled = undefined;
      try {
        await call();
        return "ok";
      } catch (err) {
        const ce = ConnectError.from(err);
        if (!ACCEPTED_ERRORS.has(ce.code) && !isProtocolError(ce.code, ce.rawMessage)) {
          throw new Error(`${label}: unexpected ${Code[ce.code]}: ${ce.rawMessage}`, {
            cause: err,
          });
        }
        rejected++;
        const after = await rowCounts(manager);
        expect(after, `${label}: a rejected call changed rows`).toBe(before);
        settled = after;
        return ce.code;
      }
    },
    /** The test wrote rows itself: count again before the next case. */
    invalidate() {
      settled = undefined;
    },
    /** Counts a non-RPC case (raw bytes) that has its own assertions. */
    count(n = 1) {
      cases += n;
      settled = undefined;
    },
  };
}

export interface RawGrpcAnswer {
  status: number | undefined;
  grpcStatus: number | undefined;
  grpcMessage: string;
  closed: boolean;
}

/** One raw gRPC request on an open HTTP/2 session: any headers, any body bytes. */
export function rawGrpc(
  session: http2.ClientHttp2Session,
  path: string,
  body: Uint8Array,
  headers: http2.OutgoingHttpHeaders = {},
  timeoutMs = 5_000,
): Promise<RawGrpcAnswer> {
  return new Promise((resolve) => {
    const answer: RawGrpcAnswer = {
      status: undefined,
      grpcStatus: undefined,
      grpcMessage: "",
      closed: false,
    };
    const take = (h: http2.IncomingHttpHeaders) => {
      if (h["grpc-status"] !== undefined) answer.grpcStatus = Number(h["grpc-status"]);
      if (h["grpc-message"] !== undefined)
        answer.grpcMessage = decodeURIComponent(String(h["grpc-message"]));
    };
    let req: http2.ClientHttp2Stream;
    try {
      req = session.request({
        ":method": "POST",
        ":path": path,
        "content-type": "application/grpc",
        te: "trailers",
        ...headers,
      });
    } catch {
      answer.closed = true;
      resolve(answer);
      return;
    }
    const timer = setTimeout(() => {
      req.close(http2.constants.NGHTTP2_CANCEL);
    }, timeoutMs);
    req.on("response", (h) => {
      answer.status = Number(h[":status"]);
      take(h);
    });
    req.on("trailers", take);
    req.on("data", () => {});
    req.on("error", () => {
      answer.closed = true;
    });
    req.on("close", () => {
      clearTimeout(timer);
      resolve(answer);
    });
    req.end(Buffer.from(body));
  });
}

/** A gRPC length-prefixed frame; flags and declared length may lie (src/common/grpc-frame.ts). */
export const frame = encodeGrpcFrame;

/** Sends raw bytes on a TCP connection; resolves when the server closed it or answered, or after timeoutMs. */
export function rawTcp(
  port: number,
  bytes: Uint8Array,
  timeoutMs = 3_000,
): Promise<{ closed: boolean; answer: string }> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: "127.0.0.1", port });
    let answer = "";
    let settled = false;
    const done = (closed: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ closed, answer });
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    sock.on("connect", () => sock.write(Buffer.from(bytes)));
    sock.on("data", (d: Buffer) => {
      answer += d.toString("latin1");
    });
    sock.on("error", () => done(true));
    sock.on("close", () => done(true));
  });
}

/** SQL-looking strings (and friends) for every string field and selector. */
export const SQL_STRINGS = [
  "'; DROP TABLE nodes; --",
  "x' OR '1'='1",
  '" OR 1=1 --',
  "1; DELETE FROM metrics",
  "') UNION SELECT node_id, hostname FROM nodes --",
  "$$; drop table node_events; $$",
  "%",
  "_",
  "\\",
  "';--",
  "\u0000",
  "a\u0000b",
  "null",
  "NULL",
  "pg_sleep(10)",
  "'||pg_sleep(10)||'",
  "env=prod' OR 'a'='a",
  "k=v,'; DROP TABLE nodes; --=x",
  "!'; TRUNCATE nodes; --",
  'k!="x" OR 1=1',
  "\u202e\ud800",
  "$" + "{jndi:ldap://x}",
];

/** Plausible values by field name, so random messages also reach past validation. */
export interface FieldHints {
  [localName: string]: fc.Arbitrary<unknown>;
}

const U64_MAX = 2n ** 64n - 1n;
const I64 = { min: -(2n ** 63n), max: 2n ** 63n - 1n };

/** A random value of one scalar type; strings come from `str`. */
function scalarArbitrary(t: ScalarType, str: fc.Arbitrary<string>): fc.Arbitrary<unknown> {
  switch (t) {
    case ScalarType.STRING:
      return str;
    case ScalarType.BYTES:
      return fc.uint8Array({ maxLength: 64 });
    case ScalarType.BOOL:
      return fc.boolean();
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return fc.double();
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return fc.oneof(
        fc.bigInt(I64),
        fc.constantFrom(0n, -1n, BigInt(Math.floor(Date.now() / 1000))),
      );
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return fc.oneof(fc.bigInt({ min: 0n, max: U64_MAX }), fc.constant(0n));
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return fc.integer({ min: 0, max: 2 ** 32 - 1 });
    default:
      return fc.oneof(
        fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
        fc.integer({ min: -2, max: 100 }),
      );
  }
}

/**
 * Random init objects for any message, built from its descriptor: every
 * field of every kind (scalars at their extremes, enums in and out of range,
 * lists, maps, nested messages to a depth), each field present or not. New
 * fields and new methods are covered without touching the suite.
 */
export function messageArbitrary(
  desc: DescMessage,
  str: fc.Arbitrary<string>,
  hints: FieldHints = {},
  depth = 3,
): fc.Arbitrary<Record<string, unknown>> {
  const parts: Record<string, fc.Arbitrary<unknown>> = {};
  const elementOf = (kind: "scalar" | "enum" | "message", f: DescField): fc.Arbitrary<unknown> => {
    if (kind === "message") {
      const m = (f as { message: DescMessage }).message;
      return depth > 0 ? messageArbitrary(m, str, hints, depth - 1) : fc.constant({});
    }
    if (kind === "enum") {
      const e = (f as { enum: DescEnum }).enum;
      return fc.oneof(
        fc.constantFrom(...e.values.map((v) => v.number)),
        fc.integer({ min: -5, max: 1000 }),
      );
    }
    return scalarArbitrary((f as { scalar: ScalarType }).scalar, str);
  };
  for (const f of desc.fields) {
    if (f.oneof) continue;
    let arb: fc.Arbitrary<unknown>;
    switch (f.fieldKind) {
      case "list":
        arb = fc.array(elementOf(f.listKind, f), { maxLength: 6 });
        break;
      case "map":
        arb = fc
          .array(fc.tuple(scalarArbitrary(f.mapKey, str).map(String), elementOf(f.mapKind, f)), {
            maxLength: 4,
          })
          .map((pairs) => Object.fromEntries(pairs));
        break;
      default:
        arb = elementOf(f.fieldKind, f);
    }
    const hint = hints[f.localName];
    parts[f.localName] = hint
      ? fc.oneof({ weight: 2, arbitrary: hint }, { weight: 1, arbitrary: arb })
      : arb;
  }
  for (const o of desc.oneofs) {
    parts[o.localName] = fc.oneof(
      fc.constant({ case: undefined }),
      ...o.fields.map((f) =>
        elementOf(
          f.fieldKind === "message" ? "message" : f.fieldKind === "enum" ? "enum" : "scalar",
          f,
        ).map((value) => ({ case: f.localName, value })),
      ),
    );
  }
  return fc.record(parts, { requiredKeys: [] });
}
