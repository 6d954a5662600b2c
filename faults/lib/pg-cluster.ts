import postgres from "postgres";
import {
  type PrivatePostgres as Cluster,
  startPrivatePostgres as startCluster,
} from "../../tests/helpers/private-postgres.js";

/**
 * The suite's PostgreSQL: a private cluster (tests/helpers/private-postgres.ts,
 * never the shared one on 5432), so scenarios may stop and start it, with a
 * fresh database per scenario.
 */
export interface PrivatePostgres {
  readonly port: number;
  /** A fresh, empty database; returns its URL. */
  createDatabase(name: string): Promise<string>;
  /** pg_ctl stop -m fast: terminates backends (57P01) and refuses new connections. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Starts the server if a scenario left it stopped. */
  ensureRunning(): Promise<void>;
  destroy(): Promise<void>;
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const cluster: Cluster = await startCluster();
  return {
    port: cluster.port,
    async createDatabase(name) {
      const admin = postgres(cluster.url, { max: 1, onnotice: () => {} });
      try {
        await admin.unsafe(`drop database if exists ${name} with (force)`);
        await admin.unsafe(`create database ${name}`);
      } finally {
        await admin.end();
      }
      const u = new URL(cluster.url);
      u.pathname = `/${name}`;
      return u.toString();
    },
    stop: () => cluster.stop(),
    start: () => cluster.start(),
    async ensureRunning() {
      if (!cluster.running) await cluster.start();
    },
    destroy: () => cluster.destroy(),
  };
}
