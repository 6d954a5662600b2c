import type postgres from "postgres";
import type { PrivatePostgres } from "./pg-cluster.js";

/** What one scenario gets: its own folder, its own database on the suite's private cluster. */
export interface ScenarioContext {
  readonly name: string;
  /** Logs, configs and work_dirs of this scenario. */
  readonly dir: string;
  readonly pg: PrivatePostgres;
  readonly databaseUrl: string;
  readonly sql: postgres.Sql;
  /** Runs at the end whatever happened (after the suite has killed what still runs). */
  onCleanup(fn: () => unknown): void;
  /** A progress note, shown with --verbose. */
  note(msg: string): void;
}

/** The figures a scenario prints on its line (name=value). */
export type Figures = Record<string, string | number>;

export interface Scenario {
  readonly name: string;
  readonly summary: string;
  run(ctx: ScenarioContext): Promise<Figures>;
}

/** Seconds with one decimal, for figures. */
export const secs = (ms: number) => `${(ms / 1000).toFixed(1)}s`;
