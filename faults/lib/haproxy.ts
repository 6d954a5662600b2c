import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "../../tests/helpers/private-postgres.js";
import { type Proc, spawnProc, waitFor } from "./proc.js";

export const HAPROXY = "/usr/sbin/haproxy";

/**
 * HAProxy in front of the replicas: `mode http` with `proto h2` on both
 * sides, so each gRPC call (not each connection) is balanced, and a replica
 * that stops answering is taken out by its health check.
 */
export async function startHaproxy(
  dir: string,
  backends: { name: string; port: number }[],
): Promise<Proc & { port: number }> {
  const port = await freePort();
  const cfg = join(dir, "haproxy.cfg");
  writeFileSync(
    cfg,
    `global
  log stderr format raw local0 warning
defaults
  mode http
  log global
  timeout connect 1s
  timeout client 60s
  timeout server 60s
  retries 2
  option redispatch
frontend grpc
  bind 127.0.0.1:${port} proto h2
  default_backend managers
backend managers
  balance roundrobin
  retry-on conn-failure empty-response
${backends.map((b) => `  server ${b.name} 127.0.0.1:${b.port} proto h2 check inter 500ms fall 2 rise 2`).join("\n")}
`,
  );
  const p = spawnProc("haproxy", HAPROXY, ["-db", "-f", cfg], { log: join(dir, "haproxy.log") });
  await waitFor(
    "haproxy listening",
    async () => {
      if (!p.running) throw new Error("haproxy exited (see haproxy.log)");
      const { connect } = await import("node:net");
      return new Promise<boolean>((resolve) => {
        const s = connect(port, "127.0.0.1", () => {
          s.end();
          resolve(true);
        });
        s.on("error", () => resolve(false));
      });
    },
    10_000,
  );
  return Object.assign(p, { port });
}
