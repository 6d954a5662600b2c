import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { sql } from "drizzle-orm";
import { FleetService } from "../../gen/fleet/v1/fleet_pb.js";
import type { ManagerConfig } from "../../src/manager/config.js";
import type { Database } from "../../src/manager/db/client.js";
import type { CreateManagerOptions, Manager } from "../../src/manager/server.js";
import { startTestManager } from "./manager.js";

/** A real manager whose WatchNodes polls every 100 ms, so tests see events quickly. */
export function startFleetManager(
  overrides: Partial<ManagerConfig> = {},
  options: CreateManagerOptions = {},
): Promise<Manager> {
  return startTestManager(overrides, { watchPollIntervalMs: 100, ...options });
}

/** FleetService over the HTTP port with the Connect protocol (JSON), as curl and browsers use it. */
export function fleetClient(manager: Manager) {
  return createClient(
    FleetService,
    createConnectTransport({
      baseUrl: manager.httpUrl,
      httpVersion: "1.1",
      useBinaryFormat: false,
    }),
  );
}

export interface SeedNodesOptions {
  /** node ids are `${prefix}-000001` … */
  prefix: string;
  count: number;
  /** Every node gets label batch=<batch>, parity=even|odd, and gpu=a100 when i % 5 = 0. */
  batch: string;
  os: string;
}

/**
 * Inserts `count` nodes in one statement. Node i is offline (last seen an hour
 * ago) when i % 3 = 0,
 * arch x64 when even (else arm64), daemon_version 1.<i % 3>.
 */
export async function seedNodes(db: Database, o: SeedNodesOptions): Promise<void> {
  await db.execute(sql`
    insert into nodes (node_id, hostname, ip, os, arch, labels, daemon_version, status,
                       registered_at, last_seen_at, status_changed_at)
    select ${o.prefix} || '-' || lpad(i::text, 6, '0'),
           'host-' || i,
           '10.' || (i / 65536) || '.' || (i / 256 % 256) || '.' || (i % 256),
           ${o.os},
           case when i % 2 = 0 then 'x64' else 'arm64' end,
           jsonb_build_object('batch', ${o.batch}::text,
                              'parity', case when i % 2 = 0 then 'even' else 'odd' end)
             || case when i % 5 = 0 then '{"gpu":"a100"}'::jsonb else '{}'::jsonb end,
           '1.' || (i % 3),
           case when i % 3 = 0 then 'offline' else 'online' end,
           -- Offline nodes were last seen long ago: with last_seen now() the next
           -- liveness sweep (its cutoff is now − grace) would bring them back online.
           now(), case when i % 3 = 0 then now() - interval '1 hour' else now() end, now()
      from generate_series(1, ${o.count}::int) as i`);
}
