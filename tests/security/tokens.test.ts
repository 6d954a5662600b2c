import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FleetService } from "../../gen/fleet/v1/fleet_pb.js";
import { createManagerConnection } from "../../src/daemon/transport/client.js";
import { createFleetClient } from "../../src/fleetctl/client.js";
import type { Manager } from "../../src/manager/server.js";
import { tempDir } from "../helpers/daemon-harness.js";
import { ensureDashboardBuilt } from "../helpers/dashboard-build.js";
import { startTestManager, uniqueNodeId } from "../helpers/manager.js";
import { codeOf } from "../helpers/rpc.js";

const API_TOKEN = "api-0123456789abcdef-API";
const ENROLL_TOKEN = "enroll-0123456789abcdef-ENROLL";

describe("enrollment token (ManagerService) and API token (FleetService, dashboard, /metrics)", () => {
  const dir = tempDir("fleet-tokens-");
  let manager: Manager;

  beforeAll(async () => {
    // "/" must be the page itself (200), not the not-built notice, to show it needs no token.
    await ensureDashboardBuilt();
    manager = await startTestManager({
      auth: { apiToken: API_TOKEN, enrollToken: ENROLL_TOKEN, bindNodeIdentity: true },
    });
  });
  afterAll(async () => {
    await manager?.stop();
  });

  const daemonWith = (token: string | undefined) => {
    let tokenFile: string | undefined;
    if (token !== undefined) {
      tokenFile = join(dir, `token-${Math.random().toString(36).slice(2)}`);
      writeFileSync(tokenFile, `${token}\n`);
    }
    return createManagerConnection({
      address: manager.grpcUrl,
      timeoutMs: 5_000,
      retry: false,
      tokenFile,
    });
  };

  it("ManagerService: no token and a wrong token are UNAUTHENTICATED, the right one (from manager.token_file) is served", async () => {
    const nodeId = uniqueNodeId("enroll");
    const ts = BigInt(Math.floor(Date.now() / 1000));
    for (const [token, want] of [
      [undefined, Code.Unauthenticated],
      ["wrong-token-0123456789abcdef", Code.Unauthenticated],
      [`${ENROLL_TOKEN}x`, Code.Unauthenticated],
      [ENROLL_TOKEN.slice(0, -1), Code.Unauthenticated],
      [ENROLL_TOKEN, "ok"],
    ] as const) {
      const conn = daemonWith(token);
      try {
        expect(await codeOf(conn.client.registerNode({ nodeId }))).toBe(want);
        expect(await codeOf(conn.client.heartbeat({ nodeId, timestamp: ts }))).toBe(want);
        expect(await codeOf(conn.client.reportMetrics({ nodeId, metrics: [] }))).toBe(want);
      } finally {
        conn.close();
      }
    }
  });

  it("the API token does not open ManagerService, nor the enrollment token FleetService", async () => {
    const conn = daemonWith(API_TOKEN);
    try {
      expect(await codeOf(conn.client.registerNode({ nodeId: uniqueNodeId("x") }))).toBe(
        Code.Unauthenticated,
      );
    } finally {
      conn.close();
    }
    const fleet = createFleetClient({
      server: manager.httpUrl,
      token: ENROLL_TOKEN,
      timeoutMs: 5_000,
    });
    expect(await codeOf(fleet.getFleetSummary({}))).toBe(Code.Unauthenticated);
  });

  it("FleetService on the HTTP port (Connect, as fleetctl and the dashboard call it)", async () => {
    const call = (token: string | undefined) =>
      createFleetClient({ server: manager.httpUrl, token, timeoutMs: 5_000 }).listNodes({});
    expect(await codeOf(call(undefined))).toBe(Code.Unauthenticated);
    expect(await codeOf(call("wrong-token-0123456789abcdef"))).toBe(Code.Unauthenticated);
    expect(await codeOf(call(API_TOKEN))).toBe("ok");
    // The dashboard's browser client sends the same header through a Connect-Web interceptor.
    const res = await fetch(`${manager.httpUrl}/fleet.v1.FleetService/GetFleetSummary`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { code: string }).code).toBe("unauthenticated");
  });

  it("FleetService on the gRPC port", async () => {
    const fleet = createClient(FleetService, createGrpcTransport({ baseUrl: manager.grpcUrl }));
    expect(await codeOf(fleet.getFleetSummary({}))).toBe(Code.Unauthenticated);
    expect(
      await codeOf(
        fleet.getFleetSummary({}, { headers: { authorization: `Bearer ${API_TOKEN}` } }),
      ),
    ).toBe("ok");
  });

  it("the dashboard page loads (it asks for the token); its data, /metrics and /metrics/fleet need the token; health stays open", async () => {
    const get = (path: string, token?: string) =>
      fetch(`${manager.httpUrl}${path}`, {
        headers: token ? { authorization: `Bearer ${token}` } : {},
      }).then(async (r) => ({ status: r.status, auth: r.headers.get("www-authenticate") }));
    expect((await get("/")).status).toBe(200);
    expect((await get("/healthz")).status).toBe(200);
    expect((await get("/readyz")).status).toBe(200);
    for (const path of ["/metrics", "/metrics/fleet", "/metrics/fleet?x=1"]) {
      expect(await get(path)).toEqual({ status: 401, auth: 'Bearer realm="fleet"' });
      expect((await get(path, "wrong-token-0123456789abcdef")).status).toBe(401);
      expect((await get(path, API_TOKEN)).status).toBe(200);
    }
  });
});
