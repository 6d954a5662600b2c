/**
 * The seed's design as a peer: what the existing Go manager does, on the same
 * database and schema (the real drizzle migrations) and the same RPC stack
 * (connect-node's gRPC adapter on node:http2). Every RPC is its own statement:
 * RegisterNode one upsert, Heartbeat one UPDATE, ReportMetrics one multi-row
 * INSERT of that request's rows. No group commit, no heartbeat batching, no
 * known-node cache, no admission control, no node_usage digest.
 *
 * Same interface as bench/servers/manager.ts: BENCH_MANAGER_CONFIG (JSON; only
 * databaseUrl and databasePoolSize are read), ports on 127.0.0.1:0, prints
 * `READY {"grpcPort":…,"httpPort":…}`, stops on SIGTERM. The HTTP port serves
 * /metrics with the two series the bench cases read (fleet_rpc_requests_total
 * by method and code, and the event-loop lag max).
 */
import http from "node:http";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { Code, ConnectError, type ConnectRouter, type Interceptor } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import postgres from "postgres";
import { ManagerService } from "../../gen/manager/manager_pb.js";
import { openDatabase } from "../../src/manager/db/client.js";
import { runMigrations } from "../../src/manager/db/migrate.js";

const config = JSON.parse(process.env.BENCH_MANAGER_CONFIG ?? "{}") as {
  databaseUrl?: string;
  databasePoolSize?: number;
};
if (!config.databaseUrl)
  throw new Error("seed-design: BENCH_MANAGER_CONFIG.databaseUrl is required");

// The real migrations, so the tables, keys and partitions are the manager's.
const handle = await openDatabase({ url: config.databaseUrl, dataDir: "" });
await runMigrations(handle);
await handle.close();

const sql = postgres(config.databaseUrl, {
  max: config.databasePoolSize ?? 10,
  onnotice: () => {},
  connection: { application_name: "fleet-seed-design" },
});

const requireNodeId = (nodeId: string) => {
  if (!nodeId) throw new ConnectError("node_id is required", Code.InvalidArgument);
};

const counts = new Map<string, number>();
const count: Interceptor = (next) => async (req) => {
  const method = req.method.name;
  try {
    const res = await next(req);
    bump(method, "OK");
    return res;
  } catch (err) {
    bump(method, Code[ConnectError.from(err).code] ?? "UNKNOWN");
    throw err;
  }
};
function bump(method: string, code: string) {
  const key = `method="${method}",code="${code}"`;
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

const routes = (router: ConnectRouter) => {
  router.service(ManagerService, {
    async registerNode(req) {
      requireNodeId(req.nodeId);
      await sql`
        insert into nodes (node_id, hostname, ip, os, arch, labels, daemon_version, agent_version,
                           status, last_seen_at, status_changed_at)
        values (${req.nodeId}, ${req.hostname}, ${req.ip}, ${req.os}, ${req.arch},
                ${sql.json(req.labels)}, ${req.daemonVersion}, ${req.agentVersion},
                'online', now(), now())
        on conflict (node_id) do update
          set hostname = excluded.hostname, ip = excluded.ip, os = excluded.os,
              arch = excluded.arch, labels = excluded.labels,
              daemon_version = excluded.daemon_version, agent_version = excluded.agent_version,
              status = 'online', last_seen_at = now()`;
      return { success: true, serverTime: BigInt(Math.floor(Date.now() / 1000)) };
    },
    async heartbeat(req) {
      requireNodeId(req.nodeId);
      const res = await sql`
        update nodes set last_seen_at = now(), status = 'online' where node_id = ${req.nodeId}`;
      if (res.count === 0)
        throw new ConnectError(`node ${req.nodeId} is not registered`, Code.NotFound);
      return { success: true, serverTime: BigInt(Math.floor(Date.now() / 1000)) };
    },
    async reportMetrics(req) {
      requireNodeId(req.nodeId);
      if (req.metrics.length === 0) return { success: true };
      await insertReport(req.nodeId, req.metrics);
      return { success: true, accepted: req.metrics.length };
    },
  });
};

interface Metric {
  type: string;
  timestamp: bigint;
  labels: Record<string, string>;
  values: Record<string, number>;
}

/**
 * One multi-row INSERT per request, as the Go manager does. It stores what it
 * is sent: no check that the node exists (metrics has no foreign key).
 */
async function insertReport(nodeId: string, metrics: readonly Metric[]): Promise<number> {
  const rows = metrics.map((m) => ({
    node_id: nodeId,
    type: m.type,
    labels: sql.json(m.labels),
    ts: new Date(Number(m.timestamp) * 1000),
    values: sql.json(m.values),
  }));
  const res = await sql`
    insert into metrics ${sql(rows, "node_id", "type", "labels", "ts", "values")}
    on conflict do nothing`;
  return res.count;
}

const grpcServer = http2.createServer(
  {},
  connectNodeAdapter({ routes, interceptors: [count], grpc: true, grpcWeb: false, connect: false }),
);

const lag = monitorEventLoopDelay({ resolution: 10 });
lag.enable();
const httpServer = http.createServer((req, res) => {
  if (req.url !== "/metrics") {
    res.writeHead(404).end();
    return;
  }
  let body = "# TYPE fleet_rpc_requests_total counter\n";
  for (const [labels, n] of counts) body += `fleet_rpc_requests_total{${labels}} ${n}\n`;
  // Same name and reset-on-read behaviour as the manager's prom-client gauge.
  body += `fleet_manager_nodejs_eventloop_lag_max_seconds ${lag.max / 1e9}\n`;
  lag.reset();
  res.writeHead(200, { "content-type": "text/plain; version=0.0.4" }).end(body);
});

const listen = (s: http.Server | http2.Http2Server) =>
  new Promise<number>((resolve) =>
    s.listen(0, "127.0.0.1", () => resolve((s.address() as AddressInfo).port)),
  );
const grpcPort = await listen(grpcServer);
const httpPort = await listen(httpServer);
process.stdout.write(`READY ${JSON.stringify({ grpcPort, httpPort })}\n`);

process.once("SIGTERM", () => {
  grpcServer.close();
  httpServer.close();
  sql.end({ timeout: 5 }).then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
