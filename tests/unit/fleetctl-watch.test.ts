import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type NodeEvent, NodeEventSchema } from "../../gen/fleet/v1/fleet_pb.js";
import { createFleetClient, type FleetClient } from "../../src/fleetctl/client.js";
import { watchCommand } from "../../src/fleetctl/commands/watch.js";
import type { CommandContext } from "../../src/fleetctl/context.js";
import { waitFor } from "../helpers/wait.js";

/** One scripted WatchNodes call: events to yield, then an error to throw or a clean end. */
type Script = { events?: NodeEvent[]; fail?: Code };

function watchContext(scripts: Script[]) {
  const controller = new AbortController();
  const calls: bigint[] = [];
  const errs: string[] = [];
  const out: string[] = [];
  const client = {
    watchNodes(req: { afterEventId: bigint }) {
      calls.push(req.afterEventId);
      const s = scripts.shift() ?? {};
      return (async function* () {
        for (const e of s.events ?? []) yield e;
        if (s.fail !== undefined) throw new ConnectError("scripted", s.fail);
      })();
    },
  } as unknown as FleetClient;
  const ctx: CommandContext = {
    client,
    json: false,
    args: [],
    options: {},
    out: (t) => out.push(t),
    err: (t) => errs.push(t),
    signal: controller.signal,
    timeoutMs: 30_000,
    columns: 80,
  };
  return { ctx, controller, calls, errs, out };
}

const event = (id: bigint) =>
  create(NodeEventSchema, { eventId: id, nodeId: "n1", kind: "online", time: 1_700_000_000n });

describe("fleetctl watch reconnects", () => {
  it("backs off after a cleanly ended stream instead of spinning", async () => {
    const w = watchContext([]);
    const run = watchCommand(w.ctx);
    // It announces a 500 ms backoff after the clean end: abort inside it, before any reconnect.
    await waitFor("the backoff announced", () => w.errs.length === 2, { intervalMs: 10 });
    w.controller.abort();
    await run;
    expect(w.calls.length).toBe(1);
    // It says it is watching before anything happens (stderr: --json stays clean).
    expect(w.errs[0]).toBe("watching node events; Ctrl-C to stop");
    expect(w.out).toEqual([]);
    expect(w.errs[1]).toMatch(/stream ended; reconnecting after event 0 in 500 ms/);
  });

  it("stops at once on Ctrl-C during a backoff", async () => {
    const w = watchContext(Array.from({ length: 5 }, () => ({ fail: Code.Unavailable })));
    const run = watchCommand(w.ctx);
    await waitFor("the backoff announced", () => w.errs.length === 2, { intervalMs: 10 });
    const t0 = Date.now();
    w.controller.abort();
    await run;
    expect(Date.now() - t0).toBeLessThan(200);
  });

  it("resets the backoff after a stream that delivered events, resuming after the last", async () => {
    const w = watchContext([
      { fail: Code.Unavailable },
      { fail: Code.Unavailable },
      { events: [event(7n), event(8n)] },
    ]);
    const run = watchCommand(w.ctx);
    await waitFor("three backoffs announced", () => w.errs.length === 4, { intervalMs: 10 });
    w.controller.abort();
    await run;
    expect(w.errs.slice(1).map((e) => /in (\d+) ms/.exec(e)?.[1])).toEqual(["500", "1000", "500"]);
    expect(w.errs[3]).toContain("stream ended; reconnecting after event 8");
    expect(w.out).toHaveLength(2);
    expect(w.calls).toEqual([0n, 0n, 0n]);
  });

  it("gives up on errors that are not transient", async () => {
    const w = watchContext([{ fail: Code.PermissionDenied }]);
    await expect(watchCommand(w.ctx)).rejects.toMatchObject({ code: Code.PermissionDenied });
  });
});

describe("fleetctl client timeout", () => {
  // A manager that accepts requests and never answers.
  let server: Server;
  let url: string;
  beforeAll(async () => {
    server = createServer(() => {});
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it("bounds unary calls by timeoutMs but leaves WatchNodes open", async () => {
    const client = createFleetClient({ server: url, token: undefined, timeoutMs: 150 });
    const t0 = Date.now();
    await expect(client.getFleetSummary({})).rejects.toMatchObject({
      code: Code.DeadlineExceeded,
    });
    expect(Date.now() - t0).toBeLessThan(2_000);

    const abort = new AbortController();
    let settled = false;
    const watch = (async () => {
      for await (const _ of client.watchNodes({}, { signal: abort.signal })) {
        // none expected
      }
    })().then(
      () => ({ code: undefined }),
      (err: unknown) => ConnectError.from(err),
    );
    void watch.finally(() => {
      settled = true;
    });
    await new Promise((r) => setTimeout(r, 500));
    expect(settled).toBe(false);
    abort.abort();
    expect((await watch).code).toBe(Code.Canceled);
  });
});
