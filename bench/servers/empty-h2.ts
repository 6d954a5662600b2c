/**
 * Ceiling: raw node:http2 answering every POST with a pre-encoded gRPC
 * response (HeartbeatResponse{success:true}) and grpc-status 0 trailers.
 * No parsing, no routing: the fastest a Node.js gRPC server can be here.
 */
import http2 from "node:http2";
import type { AddressInfo } from "node:net";

const body = Buffer.from([0, 0, 0, 0, 2, 0x08, 0x01]);
const server = http2.createServer();
server.on("stream", (stream) => {
  stream.on("data", () => {});
  stream.on("end", () => {
    stream.respond(
      { ":status": 200, "content-type": "application/grpc" },
      { waitForTrailers: true },
    );
    stream.on("wantTrailers", () =>
      stream.sendTrailers({ "grpc-status": "0", "grpc-message": "" }),
    );
    stream.end(body);
  });
});
server.listen(0, "127.0.0.1", () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`READY ${JSON.stringify({ grpcPort: port })}\n`);
});
process.once("SIGTERM", () => {
  server.close();
  process.exit(0);
});
