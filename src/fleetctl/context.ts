import type { FleetClient } from "./client.js";

/** What every command gets: the client, output mode and the parsed command line. */
export interface CommandContext {
  client: FleetClient;
  /** Print proto JSON (as the Connect protocol returns it) instead of text. */
  json: boolean;
  /** Positional arguments after the command name. */
  args: string[];
  /** Command-specific option values. */
  options: Record<string, string | boolean | string[] | undefined>;
  /** Standard output, one call per line or block. */
  out: (text: string) => void;
  /** Standard error for progress and warnings. */
  err: (text: string) => void;
  /** Aborted on Ctrl-C. */
  signal: AbortSignal;
  timeoutMs: number;
  /** Terminal width in columns (output is sized not to wrap). */
  columns: number;
}

/** A string option, or undefined. */
export function opt(ctx: CommandContext, name: string): string | undefined {
  const v = ctx.options[name];
  return typeof v === "string" ? v : undefined;
}
