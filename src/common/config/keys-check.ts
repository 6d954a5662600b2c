/**
 * Strict configuration files (shared by the daemon and the manager loaders):
 * every key nobody reads is a problem naming it and the nearest known key, so
 * a typo (`manager.adress`) never silently keeps a default.
 */

/** Edit distance (insert, delete, substitute, and swap of neighbours). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    const row = d[i] as number[];
    const prev = d[i - 1] as number[];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(
        (prev[j] as number) + 1,
        (row[j - 1] as number) + 1,
        (prev[j - 1] as number) + cost,
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        best = Math.min(best, ((d[i - 2] as number[])[j - 2] as number) + 1);
      row[j] = best;
    }
  }
  return (d[a.length] as number[])[b.length] as number;
}

/**
 * The known key closest to `key`: compared whole, and by its last part under
 * the same parent (so `manager.heartbeat_intervall` finds
 * `manager.heartbeat_interval`, and `colectors` finds `collectors`). Undefined
 * when nothing is close enough to be a plausible typo.
 */
export function nearestKey(key: string, known: readonly string[]): string | undefined {
  let best: { key: string; score: number } | undefined;
  const leaf = key.slice(key.lastIndexOf(".") + 1);
  const parent = key.includes(".") ? key.slice(0, key.lastIndexOf(".")) : "";
  for (const k of known) {
    let score = editDistance(key, k);
    const kParent = k.includes(".") ? k.slice(0, k.lastIndexOf(".")) : "";
    if (kParent === parent)
      score = Math.min(score, editDistance(leaf, k.slice(k.lastIndexOf(".") + 1)));
    if (!best || score < best.score) best = { key: k, score };
  }
  if (!best) return undefined;
  const limit = Math.max(2, Math.floor(leaf.length / 3));
  return best.score <= limit ? best.key : undefined;
}

export interface UnknownKeyOptions {
  /** The file's name for messages. */
  source: string;
  /** Every key a loader reads (leaves), e.g. `manager.address`. */
  known: readonly string[];
  /** Keys whose value is a free mapping (e.g. `daemon.labels`): not walked. */
  maps?: readonly string[];
  /**
   * Keys of another system accepted with one warning each (DESIGN §3): a key
   * equal to one of these, or under it, or matching a `prefix*` entry.
   */
  accepted?: readonly { key: string; why: string }[];
}

export interface UnknownKeyReport {
  problems: string[];
  warnings: string[];
}

/**
 * Walks a parsed YAML document: unknown keys become problems ("did you mean
 * …?"), a scalar where a section is expected is a problem, accepted foreign
 * keys become one warning each.
 */
export function checkConfigKeys(
  doc: Record<string, unknown>,
  opts: UnknownKeyOptions,
): UnknownKeyReport {
  const known = new Set(opts.known);
  const maps = new Set(opts.maps ?? []);
  const sections = new Set(
    [...known, ...maps].flatMap((k) =>
      k
        .split(".")
        .slice(0, -1)
        .map((_, i, a) => a.slice(0, i + 1).join(".")),
    ),
  );
  const candidates = [...known, ...maps, ...sections];
  const accepted = (path: string) =>
    (opts.accepted ?? []).find((a) =>
      a.key.endsWith("*") ? path.startsWith(a.key.slice(0, -1)) : path === a.key,
    );
  const out: UnknownKeyReport = { problems: [], warnings: [] };
  const walk = (obj: Record<string, unknown>, prefix: string) => {
    for (const [k, v] of Object.entries(obj)) {
      const path = prefix ? `${prefix}.${k}` : k;
      if (known.has(path)) continue;
      if (maps.has(path)) {
        if (v !== null && (typeof v !== "object" || Array.isArray(v)))
          out.problems.push(
            `${path} (${opts.source}): expected a mapping, got ${JSON.stringify(v)}`,
          );
        continue;
      }
      const foreign = accepted(path);
      if (foreign) {
        out.warnings.push(`${path} (${opts.source}): ${foreign.why}; ignored`);
        continue;
      }
      if (sections.has(path)) {
        if (v !== null && typeof v === "object" && !Array.isArray(v))
          walk(v as Record<string, unknown>, path);
        else if (v !== null)
          out.problems.push(
            `${path} (${opts.source}): expected a mapping, got ${JSON.stringify(v)}`,
          );
        continue;
      }
      const near = nearestKey(path, candidates);
      out.problems.push(
        `${path} (${opts.source}): unknown key${near ? `, did you mean ${near}?` : ""}`,
      );
    }
  };
  walk(doc, "");
  return out;
}
