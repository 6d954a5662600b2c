import net from "node:net";
import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { FleetService } from "../../gen/fleet/v1/fleet_pb.js";
import { createManagerClient } from "../../src/daemon/transport/client.js";
import type { Manager } from "../../src/manager/server.js";
import { registration, startTestManager, uniqueNodeId } from "../helpers/manager.js";
import { errorOf } from "../helpers/rpc.js";

/**
 * A TCP relay to PostgreSQL that can be cut and restored on the same port, so
 * the manager sees its database go away and come back as in a real outage.
 */
function createDbRelay(target: { host: string; port: number }) {
  const sockets = new Set<net.Socket>();
  let server: net.Server | undefined;
  let port = 0;
  const up = () =>
    new Promise<number>((resolve) => {
      if (server?.listening) return resolve(port);
      const srv = net.createServer((client) => {
        const db = net.connect(target.port, target.host);
        for (const s of [client, db]) {
          sockets.add(s);
          s.on("close", () => sockets.delete(s));
          s.on("error", () => {});
        }
        client.pipe(db).pipe(client);
      });
      server = srv;
      srv.listen(port, "127.0.0.1", () => {
        port = (srv.address() as net.AddressInfo).port;
        resolve(port);
      });
    });
  const down = async () => {
    const closed = new Promise((r) => server?.close(r));
    for (const s of sockets) s.destroy();
    await closed;
  };
  return { up, down };
}

const databaseUrl = inject("databaseUrl");

describe.skipIf(!databaseUrl)("database outage (PostgreSQL)", () => {
  let manager: Manager;
  let relay: ReturnType<typeof createDbRelay>;

  beforeAll(async () => {
    const url = new URL(databaseUrl as string);
    relay = createDbRelay({ host: url.hostname, port: Number(url.port || 5432) });
    url.hostname = "127.0.0.1";
    url.port = String(await relay.up());
    manager = await startTestManager({ databaseUrl: url.toString() });
  });
  afterAll(async () => {
    await relay.up();
    await manager?.stop();
    await relay.down();
  });

  it("answers UNAVAILABLE while the database is unreachable, and recovers after", async () => {
    const client = createManagerClient({
      address: manager.grpcUrl,
      timeoutMs: 20_000,
      retry: false,
    });
    const fleet = createClient(FleetService, createGrpcTransport({ baseUrl: manager.grpcUrl }));
    await client.registerNode(registration(uniqueNodeId("down")));

    await relay.down();
    for (const call of [
      () => client.registerNode(registration(uniqueNodeId("down"))),
      () => fleet.getNode({ nodeId: "missing" }),
    ]) {
      const err = await errorOf(call());
      expect(err?.code, err?.message).toBe(Code.Unavailable);
      expect(err?.rawMessage).toMatch(/^database unavailable \(\w+\); retry later$/);
    }

    await relay.up();
    const back = uniqueNodeId("down");
    await expect(client.registerNode(registration(back))).resolves.toMatchObject({ success: true });
    await expect(fleet.getNode({ nodeId: back })).resolves.toMatchObject({
      node: { nodeId: back },
    });
  });
});
