/**
 * gRPC's length-prefixed message ("envelope"): one flags byte (bit 0 =
 * compressed) and a 4-byte big-endian length, then the message. The one
 * place that knows the layout: the manager's fast path, the test clients,
 * the bench and fault load generators all frame and unframe through here.
 */

/** Bytes before the message: flags (1) + length (4). */
export const GRPC_PREFIX_BYTES = 5;
/** Flag bit for a compressed message (grpc-encoding of the call). */
export const GRPC_FLAG_COMPRESSED = 1;

/**
 * One frame around `message`. `flags` and `declaredLength` default to the
 * honest values; tests of hostile input set them to lie.
 */
export function encodeGrpcFrame(
  message: Uint8Array,
  flags = 0,
  declaredLength = message.length,
): Buffer {
  const out = Buffer.allocUnsafe(GRPC_PREFIX_BYTES + message.length);
  out[0] = flags;
  out.writeUInt32BE(declaredLength >>> 0, 1);
  out.set(message, GRPC_PREFIX_BYTES);
  return out;
}

/** The length a frame's prefix declares, or -1 while fewer than 5 bytes are in `buf`. */
export function declaredFrameLength(buf: Uint8Array): number {
  if (buf.length < GRPC_PREFIX_BYTES) return -1;
  return (
    (((buf[1] as number) << 24) >>> 0) +
    ((buf[2] as number) << 16) +
    ((buf[3] as number) << 8) +
    (buf[4] as number)
  );
}

/** A frame's parts, as read from the start of a buffer. */
export interface GrpcFrame {
  compressed: boolean;
  /** Length the prefix declares (may exceed what `payload` holds if truncated). */
  declared: number;
  /** The message bytes present, at most `declared` of them (a view, not a copy). */
  payload: Buffer;
  /** Bytes after this frame (another message, or nothing). */
  rest: Buffer;
}

/** Reads the first frame of `buf`; undefined if there is not even a whole prefix. */
export function decodeGrpcFrame(buf: Buffer): GrpcFrame | undefined {
  const declared = declaredFrameLength(buf);
  if (declared < 0) return undefined;
  const end = Math.min(buf.length, GRPC_PREFIX_BYTES + declared);
  return {
    compressed: ((buf[0] as number) & GRPC_FLAG_COMPRESSED) === GRPC_FLAG_COMPRESSED,
    declared,
    payload: buf.subarray(GRPC_PREFIX_BYTES, end),
    rest: buf.subarray(end),
  };
}

/** The first message of a response body (empty when there is none): what clients read. */
export function firstGrpcMessage(body: Buffer): Buffer {
  return decodeGrpcFrame(body)?.payload ?? Buffer.alloc(0);
}
