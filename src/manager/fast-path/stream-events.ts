import type { ServerHttp2Stream } from "node:http2";
import { Code, ConnectError } from "@connectrpc/connect";
import type { UnaryCall } from "./call.js";

// The stream's listeners are shared functions that find their call on the
// stream (emit calls them with `this` = the stream): no closures per call.
export const kCall = Symbol("fastPathCall");
export type CallStream = ServerHttp2Stream & { [kCall]: UnaryCall };
export function onStreamData(this: CallStream, chunk: Buffer): void {
  this[kCall].onData(chunk);
}
export function onStreamEnd(this: CallStream): void {
  this[kCall].onEnd();
}
export function onStreamClose(this: CallStream): void {
  this[kCall].onClose();
}
// Errors on the stream (a reset while reading) end the call; without a
// listener they would be thrown.
export function onStreamError(this: CallStream, err: Error): void {
  this[kCall].fail(new ConnectError(err.message, Code.Internal));
}
export function onWantTrailers(this: CallStream): void {
  try {
    this.sendTrailers(this[kCall].trailers as Record<string, string>);
  } catch (err) {
    this[kCall].abandon(err);
  }
}
