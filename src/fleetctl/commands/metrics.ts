import { toJson } from "@bufbuild/protobuf";
import { QueryMetricsResponseSchema } from "../../../gen/fleet/v1/fleet_pb.js";
import { parseDurationMs } from "../../common/config-load.js";
import { type CommandContext, opt } from "../context.js";
import { ArgumentError, UsageError } from "../exit-codes.js";
import { isoTime, labelText, sparkline, table, withUnit } from "../format.js";

/** Auto step: about 60 points over the range, at least 10 s. */
export function autoStepSeconds(rangeSeconds: number): number {
  return Math.max(10, Math.ceil(rangeSeconds / 60));
}

/**
 * `fleetctl metrics ID --type cpu --name usage_percent [--since 1h] [--step 1m]
 * [--label k=v]... [--table]`: a sparkline per series, or every point with --table.
 */
export async function metricsCommand(ctx: CommandContext): Promise<void> {
  const [nodeId] = ctx.args;
  if (!nodeId || ctx.args.length > 1) {
    throw new UsageError("usage: fleetctl metrics ID --type TYPE --name KEY [--since 1h]");
  }
  const type = opt(ctx, "type") ?? "cpu";
  const name = opt(ctx, "name") ?? "usage_percent";
  const sinceMs = parseDurationMs(opt(ctx, "since") ?? "1h");
  if (sinceMs === undefined || sinceMs < 1000) {
    throw new UsageError(
      `--since: expected a duration like 15m, 1h, 7d; got "${opt(ctx, "since")}"`,
    );
  }
  const range = Math.round(sinceMs / 1000);
  const stepText = opt(ctx, "step");
  const stepMs = stepText === undefined ? undefined : parseDurationMs(stepText);
  if (stepText !== undefined && (stepMs === undefined || (stepMs > 0 && stepMs < 1000))) {
    throw new UsageError(
      `--step: expected a duration like 30s or 5m, or 0 for raw; got "${stepText}"`,
    );
  }
  const stepSeconds = stepMs === undefined ? autoStepSeconds(range) : Math.round(stepMs / 1000);
  const labels: Record<string, string> = {};
  const rawLabels = ctx.options.label;
  for (const l of Array.isArray(rawLabels) ? rawLabels : []) {
    const eq = l.indexOf("=");
    if (eq <= 0) throw new UsageError(`--label: expected k=v, got "${l}"`);
    labels[l.slice(0, eq)] = l.slice(eq + 1);
  }
  const end = Math.floor(Date.now() / 1000);
  const res = await ctx.client.queryMetrics(
    {
      nodeId,
      type,
      name,
      labels,
      start: BigInt(end - range),
      end: BigInt(end + 1),
      stepSeconds,
    },
    { signal: ctx.signal, timeoutMs: ctx.timeoutMs },
  );
  if (ctx.json) {
    ctx.out(JSON.stringify(toJson(QueryMetricsResponseSchema, res)));
    return;
  }
  // A type the node has never reported is a mistake, not a quiet hour.
  if (res.series.length === 0 && res.nodeTypes.length > 0 && !res.nodeTypes.includes(type)) {
    throw new ArgumentError(
      `--type: ${nodeId} has no "${type}" metrics; it reports ${res.nodeTypes.join(", ")}`,
    );
  }
  if (res.series.length === 0) {
    ctx.err(`no ${type} ${name} points for ${nodeId} in the last ${opt(ctx, "since") ?? "1h"}`);
    return;
  }
  if (ctx.options.table === true) {
    const rows = [["TIME", "SERIES", name.toUpperCase()]];
    for (const s of res.series) {
      for (const p of s.points)
        rows.push([isoTime(Number(p.timestamp)), labelText(s.labels), withUnit(name, p.value)]);
    }
    ctx.out(table(rows));
    return;
  }
  const header = ["SERIES", "MIN", "AVG", "MAX", "LAST"];
  const rows = res.series.map((s) => {
    const v = s.points.map((p) => p.value);
    const avg = v.reduce((a, b) => a + b, 0) / v.length;
    return [
      labelText(s.labels),
      withUnit(name, Math.min(...v)),
      withUnit(name, avg),
      withUnit(name, Math.max(...v)),
      withUnit(name, v[v.length - 1] ?? 0),
    ];
  });
  // The sparkline takes what the terminal has left after the other columns and their gaps.
  const prefix = header.reduce(
    (sum, h, c) => sum + 2 + Math.max(h.length, ...rows.map((r) => [...(r[c] ?? "")].length)),
    0,
  );
  const width = Math.max(8, ctx.columns - prefix - 1);
  const title = `${name} (step ${stepSeconds ? `${stepSeconds}s` : "raw"})`;
  ctx.out(
    table([
      [...header, title.length > width ? name.slice(0, width) : title],
      ...rows.map((r, i) => [
        ...r,
        sparkline(res.series[i]?.points.map((p) => p.value) ?? [], width),
      ]),
    ]),
  );
}
