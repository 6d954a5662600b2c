import {
  create,
  type DescMethodUnary,
  type DescService,
  isMessage,
  type Message,
} from "@bufbuild/protobuf";
import type {
  ConnectRouter,
  HandlerContext,
  Interceptor,
  UnaryRequest,
  UnaryResponse,
} from "@connectrpc/connect";
import { type FastRequest, FastUnaryResponse } from "./connect-shims.js";

export type UnaryFn = (req: UnaryRequest) => Promise<UnaryResponse>;
type UnaryImpl = (req: Message, ctx: HandlerContext) => unknown;

/** One unary method the fast path serves: its descriptors and the interceptor-wrapped handler. */
export interface Route {
  service: DescService;
  method: DescMethodUnary;
  call: UnaryFn;
  /** The last answer encoded for this method and its frame (call.ts, encodedAnswer). */
  lastAnswer?: Message;
  lastFrame?: Buffer;
}

/**
 * Runs route registrations (e.g. managerRoutes(services)) against a router
 * that records `router.service(desc, impl)` calls, and wraps each unary
 * method with the interceptors, outermost first, as connect-node does.
 * Keyed by gRPC path ("/manager.ManagerService/Heartbeat"); streaming
 * methods are left to connect-node.
 */
export function captureUnaryRoutes(
  register: (router: ConnectRouter) => void,
  interceptors: readonly Interceptor[],
): Map<string, Route> {
  const routes = new Map<string, Route>();
  const router = {
    service(service: DescService, impl: Record<string, UnaryImpl | undefined>) {
      for (const method of service.methods) {
        const fn = impl[method.localName];
        if (method.methodKind !== "unary" || !fn) continue;
        const inner: UnaryFn = async (req) => {
          const ctx = (req as FastRequest).ctx;
          const out = await fn(req.message, ctx);
          // Handlers may return an init object, as connect allows.
          const message = isMessage(out, method.output)
            ? out
            : create(method.output, out as Parameters<typeof create>[1]);
          return new FastUnaryResponse(service, method as DescMethodUnary, ctx, message);
        };
        const call = interceptors.reduceRight<UnaryFn>(
          (next, interceptor) => interceptor(next as never) as unknown as UnaryFn,
          inner,
        );
        routes.set(`/${service.typeName}/${method.name}`, {
          service,
          method: method as DescMethodUnary,
          call,
          lastAnswer: undefined,
          lastFrame: undefined,
        });
      }
      return router;
    },
    rpc() {
      throw new Error("fast path: router.rpc is not supported; register whole services");
    },
  };
  register(router as unknown as ConnectRouter);
  return routes;
}
