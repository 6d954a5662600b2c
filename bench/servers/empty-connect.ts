/**
 * Baseline: the manager's RPC stack (connect-node's gRPC adapter on
 * node:http2, the same interceptor shape) with handlers that do nothing.
 */
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import type { ConnectRouter, Interceptor } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { ManagerService } from "../../gen/manager/manager_pb.js";

const passThrough: Interceptor = (next) => async (req) => next(req);
const handler = connectNodeAdapter({
  routes: (router: ConnectRouter) => {
    router.service(ManagerService, {
      registerNode: async () => ({ success: true }),
      heartbeat: async () => ({ success: true }),
      reportMetrics: async () => ({ success: true }),
    });
  },
  interceptors: [passThrough],
  grpc: true,
  grpcWeb: false,
  connect: false,
});
const server = http2.createServer({}, handler);
server.listen(0, "127.0.0.1", () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`READY ${JSON.stringify({ grpcPort: port })}\n`);
});
process.once("SIGTERM", () => {
  server.close();
  process.exit(0);
});
