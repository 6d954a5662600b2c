import type { Node } from "../../gen/fleet/v1/fleet_pb.js";
import { h } from "./dom.js";

/**
 * Trust warnings beside a node's status: its certificate expires within the
 * manager's window, or two daemons use its node_id (a cloned machine).
 */
export function trustBadges(n: Node): HTMLElement[] {
  const out: HTMLElement[] = [];
  if (n.certExpiring) {
    const days = Math.floor((Number(n.certExpiresAt) * 1000 - Date.now()) / 86_400_000);
    out.push(
      h(
        "span",
        {
          class: "badge warn",
          "data-badge": "cert-expiring",
          title: `client certificate expires ${new Date(Number(n.certExpiresAt) * 1000).toLocaleString()}`,
        },
        days < 0 ? "cert expired" : `cert expires in ${days} d`,
      ),
    );
  }
  if (n.identityConflict) {
    out.push(
      h(
        "span",
        {
          class: "badge conflict",
          "data-badge": "identity-conflict",
          title: `two daemons use this node_id: ${n.identityConflictPeers}; run fleet-daemon reset-id on the clone`,
        },
        "identity conflict",
      ),
    );
  }
  return out;
}
