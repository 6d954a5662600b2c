import postgres from "postgres";

/** The server the bench uses: BENCH_DATABASE_URL, else the local test cluster. */
export const ADMIN_URL =
  process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

/** A fresh database for one case; drop() removes it (with force) afterwards. */
export async function createBenchDatabase(tag: string) {
  const name = `fleet_bench_${tag}_${process.pid}`;
  const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`drop database if exists ${name} with (force)`);
  await admin.unsafe(`create database ${name}`);
  await admin.end();
  const u = new URL(ADMIN_URL);
  u.pathname = `/${name}`;
  const url = u.toString();
  return {
    url,
    name,
    async drop(): Promise<void> {
      const a = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
      await a.unsafe(`drop database if exists ${name} with (force)`);
      await a.end();
    },
  };
}

export type BenchDatabase = Awaited<ReturnType<typeof createBenchDatabase>>;

/**
 * On a server with autovacuum off (as the shared test cluster here is
 * configured), does what autovacuum does on a stock PostgreSQL between two
 * measured windows: VACUUM (ANALYZE) the bench's database, so heartbeats'
 * dead row versions and missing statistics from earlier steps do not pile up
 * into every later step. Returns what it did, or undefined when autovacuum is on.
 */
export async function vacuumWithoutAutovacuum(url: string): Promise<string | undefined> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const [row] = await sql<{ autovacuum: string }[]>`show autovacuum`;
    if (row?.autovacuum !== "off") return undefined;
    const t0 = performance.now();
    await sql.unsafe("vacuum (analyze)");
    return `autovacuum is off on this server: vacuum (analyze) before the step, ${((performance.now() - t0) / 1000).toFixed(1)} s`;
  } finally {
    await sql.end();
  }
}
