/**
 * `npm run fuzz -- --cases N`: the hostile-input suite (every method of both
 * services, raw bytes at both ports, both config loaders) with N
 * descriptor-driven RPC cases instead of CI's 10,000. Extra arguments go to vitest.
 */
import { spawnSync } from "node:child_process";
import { argValue } from "../src/common/config-load.js";

const argv = process.argv.slice(2);
const raw = argValue(argv, "cases") ?? "10000";
const cases = Number(raw);
if (!Number.isInteger(cases) || cases < 100) {
  process.stderr.write(`fuzz: --cases: an integer of at least 100, got "${raw}"\n`);
  process.exit(2);
}
const rest = argv.filter(
  (a, i) => a !== "--cases" && argv[i - 1] !== "--cases" && !a.startsWith("--cases="),
);
const r = spawnSync(
  "npx",
  [
    "vitest",
    "run",
    "tests/security/hostile-input.test.ts",
    "tests/security/hostile-config.test.ts",
    ...rest,
  ],
  { stdio: "inherit", env: { ...process.env, FLEET_FUZZ_CASES: String(cases) } },
);
process.exitCode = r.status ?? 1;
