/** Baseline: the fast path (src/manager/fast-path) with handlers that do nothing. */
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import type { ConnectRouter, Interceptor } from "@connectrpc/connect";
import { ManagerService } from "../../gen/manager/manager_pb.js";
import { attachFastPath } from "../../src/manager/fast-path/serve.js";

const passThrough: Interceptor = (next) => async (req) => next(req);
const server = http2.createServer({}, (_req, res) => {
  res.writeHead(404);
  res.end();
});
attachFastPath(server, {
  routes: (router: ConnectRouter) => {
    router.service(ManagerService, {
      registerNode: async () => ({ success: true }),
      heartbeat: async () => ({ success: true }),
      reportMetrics: async () => ({ success: true }),
    });
  },
  interceptors: [passThrough],
  readMaxBytes: 4 * 1024 * 1024,
});
server.listen(0, "127.0.0.1", () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`READY ${JSON.stringify({ grpcPort: port })}\n`);
});
process.once("SIGTERM", () => {
  server.close();
  process.exit(0);
});
