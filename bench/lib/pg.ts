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
