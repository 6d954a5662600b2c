#!/usr/bin/env node
/**
 * fleetctl: the fleet from a terminal, through FleetService on the manager's
 * HTTP port (Connect protocol). See `fleetctl --help` for commands and exit codes.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { parseDurationMs } from "../common/config-load.js";
import { createFleetClient } from "./client.js";
import { deleteCommand } from "./commands/delete.js";
import { eventsCommand } from "./commands/events.js";
import { metricsCommand } from "./commands/metrics.js";
import { nodeCommand } from "./commands/node.js";
import { nodesCommand } from "./commands/nodes.js";
import { topCommand } from "./commands/top.js";
import { watchCommand } from "./commands/watch.js";
import type { CommandContext } from "./context.js";
import { EXIT, exitCodeOf, UsageError } from "./exit-codes.js";
import { explainTransportError } from "./explain.js";

const USAGE = `usage: fleetctl [--server URL] [--token TOKEN] [--json] COMMAND [ARGS]

commands:
  nodes [--status online|offline] [--selector 'env=prod,role!=db,gpu'] [--sort KEY] [--limit N]
  top [--sort cpu|memory|disk|network] [--selector SEL] [--status S] [--limit 20]
  node ID
  events [ID] [--limit 50]
  metrics ID [--type cpu] [--name usage_percent] [--since 1h] [--step 1m|0] [--label k=v]... [--table]
  watch [--after EVENT_ID]
  delete ID

options:
  --server URL     manager HTTP address (env FLEET_SERVER, default http://127.0.0.1:8080)
  --token TOKEN    API token, sent as "Authorization: Bearer" (env FLEET_API_TOKEN)
  --ca FILE        CA (PEM) that signed the manager's HTTPS certificate, for a private CA
                   such as fleet-manager certs makes (env FLEET_CA)
  --json           machine-readable output (proto JSON, one document or one event per line)
  --timeout 30s    deadline of each call (not of watch)

sort keys: node_id, last_seen, cpu, memory, disk, network (usage and last_seen
  highest first; append :asc or :desc to choose)

exit codes:
  0 ok   1 error   2 usage   3 not found   4 unauthenticated or denied
  5 manager unavailable or deadline exceeded   6 invalid argument
`;

const COMMANDS: Record<string, (ctx: CommandContext) => Promise<void>> = {
  nodes: nodesCommand,
  node: nodeCommand,
  metrics: metricsCommand,
  watch: watchCommand,
  delete: deleteCommand,
  top: topCommand,
  events: eventsCommand,
};

/** Runs fleetctl with `argv` (without node and script) and returns the exit code. */
async function runFleetctl(
  argv: string[],
  env: Readonly<Record<string, string | undefined>>,
  io: {
    out: (s: string) => void;
    err: (s: string) => void;
    signal: AbortSignal;
    columns?: number | undefined;
  },
): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (err) {
    io.err(`fleetctl: ${(err as Error).message}\n\n${USAGE}`);
    return EXIT.usage;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.out(USAGE);
    return EXIT.ok;
  }
  const [name, ...args] = positionals;
  const command = name ? COMMANDS[name] : undefined;
  if (!command) {
    io.err(name ? `fleetctl: unknown command "${name}"\n\n${USAGE}` : USAGE);
    return EXIT.usage;
  }
  const timeoutText = values.timeout ?? "30s";
  const timeoutMs = parseDurationMs(timeoutText) ?? Number.NaN;
  if (!(timeoutMs > 0)) {
    io.err(`fleetctl: --timeout: expected e.g. 10s, got "${timeoutText}"`);
    return EXIT.usage;
  }
  const server = values.server ?? env.FLEET_SERVER ?? "http://127.0.0.1:8080";
  if (!/^https?:\/\//.test(server)) {
    io.err(`fleetctl: --server: expected http://host:port or https://host:port, got "${server}"`);
    return EXIT.usage;
  }
  const caFile = values.ca ?? env.FLEET_CA;
  let ca: Buffer | undefined;
  if (caFile) {
    try {
      ca = readFileSync(caFile);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      io.err(
        `fleetctl: --ca${values.ca ? "" : " (env FLEET_CA)"}: cannot read "${caFile}" (${code})`,
      );
      return EXIT.usage;
    }
  }
  const ctx: CommandContext = {
    client: createFleetClient({
      server,
      token: values.token ?? env.FLEET_API_TOKEN,
      timeoutMs,
      ca,
    }),
    json: values.json ?? false,
    args,
    options: values,
    out: io.out,
    err: io.err,
    signal: io.signal,
    timeoutMs,
    columns: io.columns ?? (Number(env.COLUMNS) || 80),
  };
  try {
    await command(ctx);
    return EXIT.ok;
  } catch (err) {
    const code = exitCodeOf(err);
    const explained = await explainTransportError(err, server, caFile);
    io.err(`fleetctl ${name}: ${explained ?? (err as Error).message}`);
    if (err instanceof UsageError) io.err(`run "fleetctl --help" for usage`);
    return code;
  }
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      server: { type: "string" },
      token: { type: "string" },
      ca: { type: "string" },
      json: { type: "boolean" },
      timeout: { type: "string" },
      help: { type: "boolean", short: "h" },
      status: { type: "string" },
      selector: { type: "string" },
      limit: { type: "string" },
      type: { type: "string" },
      name: { type: "string" },
      since: { type: "string" },
      step: { type: "string" },
      label: { type: "string", multiple: true },
      table: { type: "boolean" },
      after: { type: "string" },
      sort: { type: "string" },
    },
  });
}

const controller = new AbortController();
process.once("SIGINT", () => controller.abort());
process.once("SIGTERM", () => controller.abort());
process.exitCode = await runFleetctl(process.argv.slice(2), process.env, {
  out: (s) => process.stdout.write(`${s}\n`),
  err: (s) => process.stderr.write(`${s}\n`),
  signal: controller.signal,
  columns: process.stdout.columns,
});
