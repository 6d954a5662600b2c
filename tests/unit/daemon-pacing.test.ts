import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { applyAnnouncedInterval, createHealth } from "../../src/daemon/health.js";
import { describeError } from "../../src/daemon/transport/errors.js";

describe("daemon pacing: max(configured, the manager's answer)", () => {
  it("keeps the configured interval unless the manager asks for a longer one", () => {
    const health = createHealth("n", 5_000);
    applyAnnouncedInterval(health, 1);
    expect(health.heartbeatIntervalMs).toBe(5_000);
    applyAnnouncedInterval(health, 20);
    expect(health.heartbeatIntervalMs).toBe(20_000);
    // The fleet shrank again: back to the configured interval.
    applyAnnouncedInterval(health, 2);
    expect(health.heartbeatIntervalMs).toBe(5_000);
    // An old manager that sends nothing.
    applyAnnouncedInterval(health, 0);
    expect(health.heartbeatIntervalMs).toBe(5_000);
  });
});

describe("describeError for a node identity mismatch", () => {
  it("keeps the manager's message naming both identities and gives no CA hint", () => {
    const err = new ConnectError(
      'node_id: "web-1" is not the client certificate\'s node "web-2"',
      Code.PermissionDenied,
    );
    expect(describeError(err)).toBe(
      `[PermissionDenied] node_id: "web-1" is not the client certificate's node "web-2" — set daemon.id (or NODE_NAME) to the certificate's node, or give this daemon its own certificate (manager.tls.cert_file/key_file)`,
    );
  });
});
