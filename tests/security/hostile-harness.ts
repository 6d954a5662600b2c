import http2 from "node:http2";
import net from "node:net";
import { Code, ConnectError } from "@connectrpc/connect";
import { sql } from "drizzle-orm";
import { expect } from "vitest";
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

/** Counts cases; each one must end in OK or an accepted code, and a rejected one must write nothing. */
export function createCaseRunner(manager: Manager) {
  let cases = 0;
  let rejected = 0;
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
      const before = await rowCounts(manager);
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
        expect(await rowCounts(manager), `${label}: a rejected call changed rows`).toBe(before);
        return ce.code;
      }
    },
    /** Counts a non-RPC case (raw bytes) that has its own assertions. */
    count(n = 1) {
      cases += n;
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

/** A gRPC length-prefixed frame. */
export function frame(payload: Uint8Array, flags = 0, declaredLength = payload.length): Buffer {
  const out = Buffer.alloc(5 + payload.length);
  out[0] = flags;
  out.writeUInt32BE(declaredLength >>> 0, 1);
  out.set(payload, 5);
  return out;
}

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
