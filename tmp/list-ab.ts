// ListNodes page + total: sequential (before) vs at once on two connections (after), interleaved.
import postgres from "postgres";
const sql = postgres(process.argv[2]!, { max: 4, onnotice: () => {} });
const page = (after: string) => sql`select n.*, u.* from nodes n left join node_usage u on u.node_id = n.node_id where n.node_id > ${after} order by n.node_id limit 100`;
const total = () => sql`select count(*) from nodes`;
const seq: number[] = [], par: number[] = [];
for (let i = 0; i < 200; i++) {
  const after = `q-${Math.floor(Math.random() * 100000)}`;
  let t = performance.now();
  await page(after); await total();
  seq.push(performance.now() - t);
  t = performance.now();
  await Promise.all([page(after), total()]);
  par.push(performance.now() - t);
}
const q = (a: number[], p: number) => [...a].sort((x, y) => x - y)[Math.min(a.length - 1, Math.floor(p * a.length))]!.toFixed(1);
console.log(`sequential p50 ${q(seq, 0.5)} p99 ${q(seq, 0.99)} | parallel p50 ${q(par, 0.5)} p99 ${q(par, 0.99)}`);
await sql.end();
