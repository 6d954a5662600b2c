import type { LatestMetric, Node } from "../../common/types.js";

interface Family {
  type: "gauge" | "counter";
  help: string;
  /** Rendered label set → value; a Map keeps the first of any duplicates. */
  samples: Map<string, number>;
}

// Cumulative counters the daemon reports, by type: the kernel's interface
// counters and the daemon's own since it started (a restart is a counter reset).
const COUNTER_KEYS: Readonly<Record<string, RegExp>> = {
  network: /^(rx|tx)_(bytes|packets|errors|dropped)$/,
  daemon:
    /^(batches_dropped|samples_dropped|retries|batches_sent|ticks_missed|ticks_late|clock_steps)$/,
};

/** A Prometheus metric or label name from arbitrary text: snake_case, [a-zA-Z0-9_]. */
export function promName(text: string): string {
  const snake = text
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, "_")
    .replace(/_+/g, "_")
    .replace(/^_+|_+$/g, "");
  if (snake === "") return "x";
  return /^[0-9]/.test(snake) ? `_${snake}` : snake;
}

/** Escapes a label value: backslash, double quote and newline. */
export function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function renderLabels(labels: [string, string][]): string {
  if (labels.length === 0) return "";
  return `{${labels.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(",")}}`;
}

function renderValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Number.POSITIVE_INFINITY) return "+Inf";
  if (v === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(v);
}

/** Series labels, sanitized, never shadowing node_id and never starting with "__". */
function seriesLabels(nodeId: string, labels: Record<string, string>): [string, string][] {
  const out = new Map<string, string>([["node_id", nodeId]]);
  for (const [k, v] of Object.entries(labels).sort(([a], [b]) => a.localeCompare(b))) {
    let name = promName(k).replace(/^_+/, "") || "label";
    if (out.has(name)) name = `exported_${name}`;
    if (!out.has(name)) out.set(name, v);
  }
  return [...out];
}

/**
 * Every node and the newest value of every series as Prometheus text
 * exposition (format 0.0.4): `fleet_node_up`, `fleet_node_info`,
 * `fleet_node_last_seen_timestamp_seconds`, and `fleet_<type>_<key>` per
 * reported value, each family once with HELP and TYPE.
 */
export function renderFleetExposition(
  nodes: Node[],
  latest: LatestMetric[],
  now = Date.now(),
): string {
  const families = new Map<string, Family>();
  const add = (
    name: string,
    type: Family["type"],
    help: string,
    labels: [string, string][],
    value: number,
  ) => {
    let f = families.get(name);
    if (!f) {
      f = { type, help, samples: new Map() };
      families.set(name, f);
    }
    const key = renderLabels(labels);
    if (!f.samples.has(key)) f.samples.set(key, value);
  };

  const byStatus = new Map<string, number>();
  for (const n of nodes) {
    byStatus.set(n.status, (byStatus.get(n.status) ?? 0) + 1);
    const id: [string, string] = ["node_id", n.nodeId];
    add(
      "fleet_node_up",
      "gauge",
      "1 while the node's heartbeats are within the grace period, else 0.",
      [id],
      n.status === "online" ? 1 : 0,
    );
    // Distinct keys can map to one Prometheus name (`a-b`, `a_b`): the first
    // in key order keeps it, since a repeated label name fails the whole scrape.
    const nodeLabels = new Map<string, string>();
    for (const [k, v] of Object.entries(n.labels).sort(([a], [b]) => a.localeCompare(b))) {
      const name = `label_${promName(k)}`;
      if (!nodeLabels.has(name)) nodeLabels.set(name, v);
    }
    add(
      "fleet_node_info",
      "gauge",
      "Always 1; the node's host facts, versions and labels (label_<key>) as labels.",
      [
        id,
        ["hostname", n.hostname],
        ["ip", n.ip],
        ["os", n.os],
        ["arch", n.arch],
        ["daemon_version", n.daemonVersion],
        ["agent_version", n.agentVersion],
        ...nodeLabels,
      ],
      1,
    );
    if (n.lastSeenAt) {
      add(
        "fleet_node_last_seen_timestamp_seconds",
        "gauge",
        "Unix time of the node's last heartbeat or registration.",
        [id],
        Math.floor(n.lastSeenAt.getTime() / 1000),
      );
    }
    addTrust(add, id, n, now);
  }
  for (const [status, count] of [...byStatus].sort(([a], [b]) => a.localeCompare(b))) {
    add("fleet_nodes", "gauge", "Number of nodes by status.", [["status", status]], count);
  }

  for (const row of latest) {
    const labels = seriesLabels(row.nodeId, row.labels);
    for (const [key, value] of Object.entries(row.values)) {
      if (typeof value !== "number") continue;
      const counter = COUNTER_KEYS[row.type]?.test(key) === true;
      let name = `fleet_${promName(row.type)}_${promName(key)}`;
      // promtool: only counters may end in _total.
      if (counter) name = `${name}_total`;
      else name = name.replace(/_total$/, "");
      add(
        name,
        counter ? "counter" : "gauge",
        `${row.type} ${key} as last reported by each node's daemon.`,
        labels,
        value,
      );
    }
    add(
      `fleet_${promName(row.type)}_report_timestamp_seconds`,
      "gauge",
      `Unix time of the newest ${row.type} report of each series.`,
      labels,
      row.ts,
    );
  }

  const out: string[] = [];
  for (const name of [...families.keys()].sort()) {
    const f = families.get(name) as Family;
    out.push(`# HELP ${name} ${f.help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}`);
    out.push(`# TYPE ${name} ${f.type}`);
    for (const [labels, value] of f.samples) out.push(`${name}${labels} ${renderValue(value)}`);
  }
  return `${out.join("\n")}\n`;
}

/** Certificate expiry and cloned identity per node (issue 14); the windows were applied when written. */
function addTrust(
  add: (name: string, type: Family["type"], help: string, l: [string, string][], v: number) => void,
  id: [string, string],
  n: Node,
  now: number,
) {
  if (n.certExpiresAt) {
    add(
      "fleet_node_certificate_expiry_timestamp_seconds",
      "gauge",
      "notAfter of the client certificate the node last connected with (Unix time).",
      [id],
      Math.floor(n.certExpiresAt.getTime() / 1000),
    );
    add(
      "fleet_node_certificate_expiring",
      "gauge",
      "1 while the node's certificate expires within the manager's tls.expiry_window, else 0.",
      [id],
      n.certWarnAt && n.certWarnAt.getTime() <= now ? 1 : 0,
    );
  }
  add(
    "fleet_node_identity_conflict",
    "gauge",
    "1 while two daemons were recently seen serving this node_id (identity.conflict_hold), else 0.",
    [id],
    n.identityConflictUntil && n.identityConflictUntil.getTime() > now ? 1 : 0,
  );
}
