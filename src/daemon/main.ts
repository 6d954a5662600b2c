#!/usr/bin/env node
/**
 * fleet-daemon's entry point: caps V8's young generation first, then loads
 * the daemon (cli.ts) with a dynamic import, so the cap is in force while the
 * module graph loads.
 *
 * Why: loading the daemon's modules and its first minutes of work survive
 * enough scavenges that V8 doubles the young generation's semi-spaces (8 →
 * 16 MiB) and keeps them; measured (bench/cases/daemon.ts, interleaved with
 * the default) that costs ≈ 5 MiB of RSS, for a process that then allocates a
 * few hundred KiB a minute. A growth factor of 1 keeps the semi-spaces at the
 * size they start at. `--max-semi-space-size` would do the same from the
 * command line, but it is read only when the heap is created, so it would
 * have to be on every launcher (systemd unit, Kubernetes command, npm bin,
 * `node dist/src/daemon/main.js`); this flag is read each time V8 grows the
 * young generation, so setting it here works however the daemon is started.
 */
import { setFlagsFromString } from "node:v8";

setFlagsFromString("--semi-space-growth-factor=1");
await import("./cli.js");
