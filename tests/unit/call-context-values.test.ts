import type { ServerHttp2Stream } from "node:http2";
import { createContextKey } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { callPeerKey } from "../../src/manager/handlers/call-peer.js";
import { peerIdentityKey } from "../../src/manager/interceptors/auth.js";
import { callContextValues } from "../../src/manager/interceptors/chain.js";
import { grpcSessionKey } from "../../src/manager/interceptors/not-found-goaway.js";

/** A plain-TCP stream source: a session whose socket has only an address. */
function source() {
  const socket = { remoteAddress: "::ffff:10.0.0.7" };
  const session = { socket };
  return { session, src: { stream: { session } as unknown as ServerHttp2Stream } };
}

describe("callContextValues", () => {
  it("works out the session, the peer and the identity from the stream when read", () => {
    const { session, src } = source();
    const values = callContextValues(src);
    expect(values.get(grpcSessionKey)).toBe(session);
    expect(values.get(callPeerKey)).toEqual({ key: "10.0.0.7", certExpiresAt: undefined });
    expect(values.get(peerIdentityKey)).toBeUndefined();
  });

  it("lets set and delete override the per-call entries, as createContextValues does", () => {
    const values = callContextValues(source().src);
    values.set(callPeerKey, { key: "other", certExpiresAt: 1 });
    expect(values.get(callPeerKey)).toEqual({ key: "other", certExpiresAt: 1 });
    values.delete(grpcSessionKey);
    expect(values.get(grpcSessionKey)).toBeUndefined();
  });

  it("stores other keys, with their default until set", () => {
    const key = createContextKey(42, { description: "test" });
    const values = callContextValues(source().src);
    expect(values.get(key)).toBe(42);
    expect(values.set(key, 7).get(key)).toBe(7);
    expect(values.delete(key).get(key)).toBe(42);
  });
});
