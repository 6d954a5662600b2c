/** What a case returns, and how run.ts prints it. */
export interface BenchRow {
  measure: string;
  value: number | string;
  unit: string;
  note?: string;
}

export interface CaseResult {
  name: string;
  rows: BenchRow[];
  /** `ratio <name> <value>` lines. */
  ratios: Record<string, number>;
  /** Other headline lines, e.g. `fleet_nodes 40000`. */
  headlines?: Record<string, number>;
  notes: string[];
}

export interface BenchOptions {
  quick: boolean;
  /** The manager's RPC stack for ManagerService calls. */
  stack: "fast" | "connect";
  /** Log progress lines to stderr. */
  log: (msg: string) => void;
}

export type BenchCase = (opts: BenchOptions) => Promise<CaseResult>;

export function fmt(v: number | string): string {
  if (typeof v === "string") return v;
  if (!Number.isFinite(v)) return String(v);
  if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString("en-US");
  if (Math.abs(v) >= 100) return v.toFixed(0);
  if (Math.abs(v) >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

/** A plain text table: case | measure | value | unit | note. */
export function renderTable(results: readonly CaseResult[]): string {
  const lines: string[][] = [["case", "measure", "value", "unit", "note"]];
  for (const r of results) {
    for (const row of r.rows) {
      lines.push([r.name, row.measure, fmt(row.value), row.unit, row.note ?? ""]);
    }
  }
  const widths = [0, 1, 2, 3].map((c) => Math.max(...lines.map((l) => (l[c] as string).length)));
  return lines
    .map((l, i) => {
      const cells = l.map((cell, c) =>
        c === 2
          ? cell.padStart(widths[c] as number)
          : c < 4
            ? cell.padEnd(widths[c] as number)
            : cell,
      );
      const text = `| ${cells.join(" | ")} |`;
      return i === 0 ? `${text}\n|${widths.map((w) => "-".repeat(w + 2)).join("|")}|---|` : text;
    })
    .join("\n");
}
