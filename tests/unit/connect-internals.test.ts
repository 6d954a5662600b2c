import { readFileSync } from "node:fs";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import {
  Code,
  ConnectError,
  type ConnectRouter,
  createClient,
  type HandlerContext,
  type Interceptor,
} from "@connectrpc/connect";
import * as protocolGrpc from "@connectrpc/connect/protocol-grpc";
import { connectNodeAdapter, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManagerService } from "../../gen/manager/manager_pb.js";
import { packageRoot } from "../../src/common/package-root.js";
import { attachFastPath } from "../../src/manager/fast-path/serve.js";

/**
 * src/manager/fast-path/connect-shims.ts rebuilds objects connect-node builds
 * (UnaryRequest, HandlerContext, UnaryResponse) and calls Connect's private
 * setTrailerStatus. None of that follows semver, so @connectrpc/* are pinned
 * to exact versions and this file fails, naming what moved, when an upgrade
 * changes it. After an upgrade: re-read connect-shims.ts against the new
 * connect, then update the pins and the snapshots below.
 */
const SHIMS_CHECKED_AGAINST = "2.3.0";
const PACKAGES = ["@connectrpc/connect", "@connectrpc/connect-node", "@connectrpc/connect-web"];

// What connect-node 2.3.0 hands interceptors and handlers (own and prototype keys).
const CONNECT_REQUEST_KEYS = [
  "contextValues",
  "header",
  "message",
  "method",
  "requestMethod",
  "service",
  "signal",
  "stream",
  "url",
];
const CONNECT_RESPONSE_KEYS = ["header", "message", "method", "service", "stream", "trailer"];
const CONNECT_CONTEXT_KEYS = [
  "abort",
  "contextValues",
  "impl",
  "kind",
  "method",
  "protocolName",
  "requestHeader",
  "requestMethod",
  "requestSignal",
  "responseHeader",
  "responseTrailer",
  "service",
  "shutdownSignal",
  "signal",
  "timeoutMs",
  "url",
  "values",
];
// Context keys the shim leaves out on purpose: no handler or interceptor here
// calls abort() or reads connect's init fields spread into the context (the
// typed `values` and `signal` are served).
const SHIM_OMITS = ["abort", "contextValues", "impl", "kind", "requestSignal", "shutdownSignal"];
// The fast path's own bookkeeping on its objects, invisible to connect's types.
const SHIM_EXTRA = ["call", "ctx"];

function keysOf(o: object): string[] {
  const keys = new Set<string>();
  for (let p: object | null = o; p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    for (const k of Object.getOwnPropertyNames(p)) if (k !== "constructor") keys.add(k);
  }
  return [...keys].sort();
}

function versionOf(pkg: string): string {
  // Their package.json is not in "exports": read it from node_modules.
  const file = join(packageRoot(), "node_modules", pkg, "package.json");
  return (JSON.parse(readFileSync(file, "utf8")) as { version: string }).version;
}

describe("the Connect internals the fast path's shims depend on", () => {
  it("@connectrpc/* are pinned to the exact version the shims were checked against", () => {
    const manifest = JSON.parse(readFileSync(join(packageRoot(), "package.json"), "utf8")) as {
      dependencies: Record<string, string>;
      devDependencies: Record<string, string>;
    };
    for (const pkg of PACKAGES) {
      const spec = manifest.dependencies[pkg] ?? manifest.devDependencies[pkg];
      expect(
        spec,
        `package.json must pin ${pkg} exactly (no ^ or ~): the fast path's shims rely on its internals`,
      ).toBe(SHIMS_CHECKED_AGAINST);
      expect(
        versionOf(pkg),
        `installed ${pkg} differs from ${SHIMS_CHECKED_AGAINST}, the version src/manager/fast-path/connect-shims.ts was checked against`,
      ).toBe(SHIMS_CHECKED_AGAINST);
    }
  });

  it("setTrailerStatus (private, @connectrpc/connect/protocol-grpc) still writes the status fields the fast path sends", () => {
    expect(
      typeof protocolGrpc.setTrailerStatus,
      "@connectrpc/connect/protocol-grpc no longer exports setTrailerStatus (used by connect-shims.ts errorStatusHeaders)",
    ).toBe("function");
    const err = new ConnectError("no such node: ü", Code.NotFound, {
      "x-why": "because",
      "content-type": "text/evil",
      "grpc-status": "0",
    });
    const headers = new Headers();
    protocolGrpc.setTrailerStatus(headers, err);
    expect(
      Object.fromEntries(headers),
      "setTrailerStatus changed what it writes for an error with metadata",
    ).toEqual({
      "grpc-status": String(Code.NotFound),
      "grpc-message": encodeURIComponent("no such node: ü"),
      "x-why": "because",
    });
  });

  describe("objects interceptors and handlers receive: connect-node and the fast path", () => {
    type Seen = { req?: object; res?: object; ctx?: HandlerContext };
    const seen: Record<"connect" | "fast", Seen> = { connect: {}, fast: {} };
    const servers: http2.Http2Server[] = [];
    const sessions: http2.ServerHttp2Session[] = [];
    const urls: Record<string, string> = {};
    const probe =
      (into: Seen): Interceptor =>
      (next) =>
      async (req) => {
        into.req = req;
        const res = await next(req);
        into.res = res;
        return res;
      };
    const routes =
      (into: Seen) =>
      (router: ConnectRouter): void => {
        router.service(ManagerService, {
          heartbeat: async (_req, ctx) => {
            into.ctx = ctx;
            return { success: true };
          },
          registerNode: async () => ({ success: true }),
          reportMetrics: async () => ({ success: true }),
        });
      };

    beforeAll(async () => {
      for (const name of ["connect", "fast"] as const) {
        const server = http2.createServer(
          connectNodeAdapter({
            routes: routes(seen.connect),
            interceptors: [probe(seen.connect)],
            grpc: true,
            grpcWeb: false,
            connect: false,
          }),
        );
        if (name === "fast") {
          attachFastPath(server, {
            routes: routes(seen.fast),
            interceptors: [probe(seen.fast)],
            readMaxBytes: 1 << 20,
          });
        }
        servers.push(server);
        server.on("session", (session) => sessions.push(session));
        await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
        urls[name] = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      }
      for (const name of ["connect", "fast"] as const) {
        const client = createClient(
          ManagerService,
          createGrpcTransport({ baseUrl: urls[name] as string }),
        );
        await client.heartbeat({ nodeId: "n" }, { timeoutMs: 5000 });
      }
    });
    afterAll(async () => {
      const closed = Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
      for (const session of sessions) session.close();
      await closed;
    });

    it("connect-node's UnaryRequest, UnaryResponse and HandlerContext have the keys the shims were written for", () => {
      const { req, res, ctx } = seen.connect;
      expect(keysOf(req as object), "connect-node's UnaryRequest changed shape").toEqual(
        CONNECT_REQUEST_KEYS,
      );
      expect(keysOf(res as object), "connect-node's UnaryResponse changed shape").toEqual(
        CONNECT_RESPONSE_KEYS,
      );
      expect(keysOf(ctx as object), "connect's HandlerContext changed shape").toEqual(
        CONNECT_CONTEXT_KEYS,
      );
    });

    it("the fast path's shims have the same keys (less the documented omissions)", () => {
      const { req, res, ctx } = seen.fast;
      const without = (keys: string[], drop: string[]) => keys.filter((k) => !drop.includes(k));
      expect(without(keysOf(req as object), SHIM_EXTRA), "FastUnaryRequest").toEqual(
        CONNECT_REQUEST_KEYS,
      );
      expect(without(keysOf(res as object), SHIM_EXTRA), "FastUnaryResponse").toEqual(
        CONNECT_RESPONSE_KEYS,
      );
      expect(without(keysOf(ctx as object), SHIM_EXTRA), "FastHandlerContext").toEqual(
        without(CONNECT_CONTEXT_KEYS, SHIM_OMITS),
      );
      // Same values where both have them.
      const c = seen.connect.ctx as HandlerContext;
      const f = ctx as HandlerContext;
      expect([f.protocolName, f.requestMethod, f.method.name, f.service.typeName]).toEqual([
        c.protocolName,
        c.requestMethod,
        c.method.name,
        c.service.typeName,
      ]);
      expect(typeof f.timeoutMs()).toBe(typeof c.timeoutMs());
      expect(new URL(f.url).pathname).toBe(new URL(c.url).pathname);
    });
  });
});
