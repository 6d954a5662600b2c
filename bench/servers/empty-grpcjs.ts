/** Baseline: an empty ManagerService on @grpc/grpc-js (the alternative an operator could pick). */
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

const def = protoLoader.loadSync(join(process.cwd(), "proto/manager/manager.proto"), {
  keepCase: true,
  longs: String,
  defaults: true,
});
const pkg = grpc.loadPackageDefinition(def) as unknown as {
  manager: { ManagerService: grpc.ServiceClientConstructor };
};
const ok: grpc.handleUnaryCall<unknown, unknown> = (_call, cb) => cb(null, { success: true });
const server = new grpc.Server();
server.addService(pkg.manager.ManagerService.service, {
  RegisterNode: ok,
  Heartbeat: ok,
  ReportMetrics: ok,
});
server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  process.stdout.write(`READY ${JSON.stringify({ grpcPort: port })}\n`);
});
process.once("SIGTERM", () => {
  server.forceShutdown();
  process.exit(0);
});
