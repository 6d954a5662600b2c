/** Commands the parent sends the load generator child, and what it answers. */
interface Base {
  url: string;
  /** HTTP/2 connections, used round-robin (default 4). */
  sessions?: number;
}

export type GenCommand =
  | (Base & {
      op: "register";
      prefix: string;
      from: number;
      to: number;
      concurrency: number;
      maxSeconds: number;
    })
  | (Base & {
      op: "ingest";
      prefix: string;
      nodes: number;
      requestsPerNode: number;
      metricsPerRequest: number;
      baseTs: number;
      concurrency: number;
      maxSeconds: number;
    })
  | (Base & {
      op: "heartbeats";
      prefix: string;
      nodes: number;
      concurrency: number;
      seconds: number;
    })
  | (Base & {
      op: "fleet";
      prefix: string;
      nodes: number;
      seconds: number;
      hbIntervalS: number;
      reportIntervalS: number;
      /** ± fraction of the interval, e.g. 0.1. */
      jitter: number;
      valuesPerReport: number;
      maxInflight: number;
    })
  | { op: "exit"; url?: undefined; sessions?: undefined };

export interface GenResult {
  requests: number;
  ok: number;
  errors: Record<string, number>;
  firstError: string;
  seconds: number;
  p50Ms: number;
  p99Ms: number;
  /** The generator's own CPU over the run (1 = one core). */
  generatorCores: number;
  extra: Record<string, number>;
}

export const errorCount = (r: GenResult) => Object.values(r.errors).reduce((a, b) => a + b, 0);
