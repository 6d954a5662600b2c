import { UsageError } from "./exit-codes.js";

const KEYS = ["node_id", "last_seen", "cpu", "memory", "disk", "network"] as const;
/** Usage and recency read best highest first (like `kubectl top --sort-by`). */
const DESC_BY_DEFAULT = new Set(["last_seen", "cpu", "memory", "disk", "network"]);

/** `--sort cpu`, `--sort cpu:asc`, `--sort node_id:desc` → ListNodes order_by/descending. */
export function parseSort(text: string | undefined, fallback: string) {
  const [key = "", dir, extra] = (text ?? fallback).split(":");
  const k = key === "mem" ? "memory" : key === "net" ? "network" : key;
  if (!(KEYS as readonly string[]).includes(k) || extra !== undefined) {
    throw new UsageError(
      `--sort: expected one of ${KEYS.join(", ")} (optionally :asc or :desc), got "${text}"`,
    );
  }
  if (dir !== undefined && dir !== "asc" && dir !== "desc") {
    throw new UsageError(`--sort: direction must be asc or desc, got "${dir}"`);
  }
  return { orderBy: k, descending: dir ? dir === "desc" : DESC_BY_DEFAULT.has(k) };
}
