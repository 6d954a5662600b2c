/** The overview's filter and sort, kept in the URL hash so a link (or a reload) restores them. */
export interface OverviewQuery {
  status: string;
  selector: string;
  sort: SortKey;
  desc: boolean;
  /** Fleet chart range, e.g. "1h". */
  range: string;
}

export const SORT_KEYS = [
  "node",
  "status",
  "cpu",
  "memory",
  "disk",
  "network",
  "last_seen",
  "hostname",
  "ip",
  "os",
  "version",
  "labels",
] as const;
export type SortKey = (typeof SORT_KEYS)[number];

/** Columns the API can order by (so the first page is the true top of the fleet). */
export const API_ORDER: Partial<Record<SortKey, string>> = {
  node: "node_id",
  cpu: "cpu",
  memory: "memory",
  disk: "disk",
  network: "network",
  last_seen: "last_seen",
};

export function parseOverviewQuery(q: URLSearchParams): OverviewQuery {
  const sort = q.get("sort") ?? "node";
  const status = q.get("status") ?? "";
  return {
    status: status === "online" || status === "offline" ? status : "",
    selector: q.get("selector") ?? "",
    sort: (SORT_KEYS as readonly string[]).includes(sort) ? (sort as SortKey) : "node",
    desc: q.get("desc") === "1",
    range: q.get("range") ?? "1h",
  };
}

/** `#/?status=…`; defaults are left out so the plain overview stays `#/`. */
export function overviewHash(o: OverviewQuery): string {
  const q = new URLSearchParams();
  if (o.status) q.set("status", o.status);
  if (o.selector) q.set("selector", o.selector);
  if (o.sort !== "node") q.set("sort", o.sort);
  if (o.desc) q.set("desc", "1");
  if (o.range !== "1h") q.set("range", o.range);
  return `#/${q.size ? `?${q}` : ""}`;
}
