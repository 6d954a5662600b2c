import { gunzip } from "node:zlib";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  declaredFrameLength,
  GRPC_FLAG_COMPRESSED,
  GRPC_PREFIX_BYTES,
} from "../../common/grpc-frame.js";

/** The compression this path accepts on requests (responses are always identity). */
export const ACCEPT_ENCODING = "gzip";

/**
 * Parses a grpc-timeout header ("1-8 digits" + H/M/S/m/u/n) into milliseconds,
 * with connect-node's error messages and codes so clients see the same status.
 */
export function parseGrpcTimeout(
  value: string | undefined,
  maxTimeoutMs: number,
): { timeoutMs?: number; error?: ConnectError } {
  if (value === undefined) return {};
  const m = /^(\d{1,8})([HMSmun])$/.exec(value);
  if (!m) {
    return {
      error: new ConnectError(
        `protocol error: invalid grpc timeout value: ${value}`,
        Code.InvalidArgument,
      ),
    };
  }
  const unit = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000_001 }[
    m[2] as "H" | "M" | "S" | "m" | "u" | "n"
  ];
  const timeoutMs = unit * Number.parseInt(m[1] as string, 10);
  if (timeoutMs > maxTimeoutMs) {
    return {
      timeoutMs,
      error: new ConnectError(
        `timeout ${timeoutMs}ms must be <= ${maxTimeoutMs}`,
        Code.InvalidArgument,
      ),
    };
  }
  return { timeoutMs };
}

/**
 * grpc-message as the gRPC spec says: UTF-8, with bytes outside 0x20–0x7E and
 * "%" percent-encoded. (connect-node uses encodeURIComponent, which @grpc/grpc-js
 * decodes with decodeURI and so shows "node%3A …"; every decoder reads this form.)
 */
export function encodeGrpcMessage(message: string): string {
  let plain = true;
  for (let i = 0; i < message.length; i++) {
    const c = message.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x25) {
      plain = false;
      break;
    }
  }
  if (plain) return message;
  let out = "";
  for (const b of Buffer.from(message, "utf8")) {
    out +=
      b >= 0x20 && b <= 0x7e && b !== 0x25
        ? String.fromCharCode(b)
        : `%${b.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

/** Any thrown value as a gRPC status: ConnectErrors keep code and raw message, the rest is INTERNAL. */
export function toStatus(err: unknown): { code: Code; message: string } {
  if (err instanceof ConnectError) return { code: err.code, message: err.rawMessage };
  return { code: Code.Internal, message: "internal error" };
}

/**
 * The one length-prefixed message a unary gRPC request must carry (a view of
 * `body`, no copy), with connect-node's errors for a missing, truncated or
 * extra message. Whether it is compressed: isCompressedFrame(body).
 */
export function unframeUnary(body: Buffer, methodName: string): Buffer {
  if (body.length === 0) {
    throw new ConnectError(
      "protocol error: missing input message for unary method",
      Code.Unimplemented,
    );
  }
  const declared = declaredFrameLength(body);
  if (declared < 0) {
    throw new ConnectError(
      `protocol error: incomplete envelope (${body.length} bytes) for ${methodName}`,
      Code.InvalidArgument,
    );
  }
  const present = body.length - GRPC_PREFIX_BYTES;
  if (present < declared) {
    throw new ConnectError(
      `protocol error: promised ${declared} bytes in enveloped message, got ${present} bytes`,
      Code.InvalidArgument,
    );
  }
  if (present > declared) {
    throw new ConnectError(
      "protocol error: received extra input message for unary method",
      Code.Unimplemented,
    );
  }
  return body.subarray(GRPC_PREFIX_BYTES);
}

/** The compressed flag of the frame at the start of `body`. */
export const isCompressedFrame = (body: Buffer): boolean =>
  ((body[0] as number) & GRPC_FLAG_COMPRESSED) === GRPC_FLAG_COMPRESSED;

/** Decompresses a gzip message, refusing output over readMaxBytes, with connect-node's errors. */
export function gunzipBounded(
  payload: Buffer,
  readMaxBytes: number,
  done: (err: ConnectError | undefined, out?: Buffer) => void,
): void {
  gunzip(payload, { maxOutputLength: readMaxBytes }, (err, out) => {
    if (!err) done(undefined, out);
    else if ((err as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE") {
      done(
        new ConnectError(
          `message is larger than configured readMaxBytes ${readMaxBytes} after decompression`,
          Code.ResourceExhausted,
        ),
      );
    } else {
      done(
        new ConnectError(`failed to decompress gzip message: ${err.message}`, Code.InvalidArgument),
      );
    }
  });
}
