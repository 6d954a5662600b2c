// js-yaml, not the `yaml` package the tests use: both read YAML 1.2, and js-yaml
// costs the daemon ≈ 0.8 MiB of RSS against ≈ 3 MiB (measured side by side).
import { CORE_SCHEMA, loadAll as loadYamlDocuments } from "js-yaml";
import { ConfigError } from "./errors.js";

/** A duration such as "60s", "1m30s", "500ms", "2h" or a bare number of seconds, in ms. */
export function parseDurationMs(value: unknown): number | undefined {
  if (typeof value === "number")
    return Number.isFinite(value) && value >= 0 ? value * 1000 : undefined;
  if (typeof value !== "string") return undefined;
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
  const unitMs: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;
  let total = 0;
  let consumed = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    total += Number(m[1]) * (unitMs[m[2] as string] ?? 0);
    consumed = re.lastIndex;
  }
  return consumed === text.length && consumed > 0 ? total : undefined;
}

/**
 * A size such as `64MiB`, `512KiB`, `65536B` or a bare integer of bytes (the
 * manager's sizes take the same units), in bytes; undefined when malformed.
 */
export function parseSizeBytes(value: unknown): number | undefined {
  if (typeof value === "number")
    return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  if (typeof value !== "string") return undefined;
  const m = /^(\d+)\s*(B|KiB|MiB)?$/.exec(value.trim());
  if (!m) return undefined;
  const n = Number(m[1]) * { B: 1, KiB: 1024, MiB: 1024 * 1024 }[(m[2] ?? "B") as "B"];
  return Number.isSafeInteger(n) ? n : undefined;
}

/** `host:port` (IPv6 as `[::1]:port`); port 0 asks the OS for a free one. */
export function parseAddress(value: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(value.trim());
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  return { host: (m[1] ?? m[2]) as string, port };
}

/** Parses a YAML config file's text; a file that is not a mapping is an error. */
export function parseYamlConfig(text: string, source: string): Record<string, unknown> {
  // The core schema, as YAML 1.2 defines it: no timestamps, binaries or merge keys.
  // An empty file (or one of comments only) holds no document: no settings.
  const docs = loadYamlDocuments(text, { schema: CORE_SCHEMA });
  if (docs.length > 1) throw new Error(`expected one YAML document, found ${docs.length}`);
  const doc = docs[0];
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== "object" || Array.isArray(doc)) {
    throw new Error(`${source}: expected a YAML mapping at the top level`);
  }
  return doc as Record<string, unknown>;
}

/**
 * The `--config FILE` named in argv, parsed; `{}` when there is none. An
 * unreadable or malformed file is one ConfigError naming the flag and the path.
 */
export function readConfigFile(
  argv: readonly string[],
  readFile: (path: string) => string,
): { file: Record<string, unknown>; path: string | undefined } {
  const path = argValue(argv, "config");
  if (!path) return { file: {}, path };
  try {
    return { file: parseYamlConfig(readFile(path), path), path };
  } catch (err) {
    throw new ConfigError([`--config (${path}): ${(err as Error).message}`]);
  }
}

/** Reads `a.b.c` from a parsed YAML document. */
export function getPath(doc: Record<string, unknown>, path: string): unknown {
  let cur: unknown = doc;
  for (const part of path.split(".")) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/** Freezes a config object and everything inside it. */
export function deepFreeze<T>(value: T): Readonly<T> {
  if (value && typeof value === "object") {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** Returns the value after `--name` or `--name=value` in argv. */
export function argValue(argv: readonly string[], name: string): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === `--${name}`) return argv[i + 1];
    if (a.startsWith(`--${name}=`)) return a.slice(name.length + 3);
  }
  return undefined;
}
