/**
 * Value parsers and formatters for the configuration key tables (table.ts).
 * A parser turns a raw YAML, environment or flag value into a typed one, or
 * says what it expected; the loader words the problem (`key (source):
 * expected …, got …`). Formatters write defaults back in the same syntax, so
 * a documented default parses to the default.
 */
import { parseAddress, parseDurationMs, parseSizeBytes } from "../config-load.js";

export type Parsed<T> =
  | { ok: true; value: T }
  /** `showGot: false`: the problem ends after `expected …` (the value is not worth repeating). */
  | { ok: false; expected: string; showGot?: false };
export type Parser<T> = (raw: unknown) => Parsed<T>;

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const no = (expected: string): Parsed<never> => ({ ok: false, expected });
const numberOf = (raw: unknown) =>
  typeof raw === "number" ? raw : typeof raw === "string" ? Number(raw.trim()) : Number.NaN;

/** `1h`, `5m`, `10s` or `500ms`: the largest unit that divides. */
export const fmtMs = (ms: number) =>
  ms % 3_600_000 === 0 && ms > 0
    ? `${ms / 3_600_000}h`
    : ms % 60_000 === 0 && ms > 0
      ? `${ms / 60_000}m`
      : ms % 1000 === 0
        ? `${ms / 1000}s`
        : `${ms}ms`;
export const fmtSeconds = (s: number) => fmtMs(s * 1000);
/** Whole days as `14d`, else as fmtMs. */
export const fmtDays = (s: number) =>
  s % 86_400 === 0 && s > 0 ? `${s / 86_400}d` : fmtSeconds(s);
export const fmtSize = (n: number) =>
  n % 1_048_576 === 0 && n > 0
    ? `${n / 1_048_576}MiB`
    : n % 1024 === 0 && n > 0
      ? `${n / 1024}KiB`
      : `${n}B`;
export const fmtAddress = (a: { host: string; port: number }) =>
  a.host.includes(":") ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;

/** A duration in ms within [min, max]. */
export const durationMs =
  (minMs: number, maxMs: number): Parser<number> =>
  (raw) => {
    const ms = parseDurationMs(raw);
    return ms !== undefined && ms >= minMs && ms <= maxMs
      ? ok(ms)
      : no(`a duration from ${fmtMs(minMs)} to ${fmtMs(maxMs)}`);
  };

/** A duration in whole seconds within [min, max] seconds. */
export const durationS = (minS: number, maxS: number): Parser<number> => {
  const inner = durationMs(minS * 1000, maxS * 1000);
  return (raw) => {
    const r = inner(raw);
    return r.ok ? ok(Math.round(r.value / 1000)) : r;
  };
};

/** A duration in ms of at least `minMs`, no upper bound (the daemon's keys). */
export const durationAtLeast =
  (minMs: number): Parser<number> =>
  (raw) => {
    const ms = parseDurationMs(raw);
    return ms !== undefined && ms >= minMs
      ? ok(ms)
      : no(`a duration of at least ${minMs}ms such as "60s"`);
  };

export const integer =
  (min: number, max: number): Parser<number> =>
  (raw) => {
    const n = numberOf(raw);
    return Number.isInteger(n) && n >= min && n <= max
      ? ok(n)
      : no(`an integer from ${min} to ${max}`);
  };

/** A number in (0, 1]. */
export const fraction: Parser<number> = (raw) => {
  const n = numberOf(raw);
  return Number.isFinite(n) && n > 0 && n <= 1 ? ok(n) : no("a number in (0, 1]");
};

/** A rate from 0 (off) to `max`. */
export const rate =
  (max: number): Parser<number> =>
  (raw) => {
    const n = numberOf(raw);
    return Number.isFinite(n) && n >= 0 && n <= max ? ok(n) : no(`a number from 0 (off) to ${max}`);
  };

/** A size (B, KiB, MiB or bare bytes, parseSizeBytes) within [min, max]. */
export const size =
  (min: number, max: number, expected?: string): Parser<number> =>
  (raw) => {
    const n = parseSizeBytes(raw);
    return n !== undefined && n >= min && n <= max
      ? ok(n)
      : no(expected ?? `a size from ${min} to ${max} bytes (e.g. 4MiB)`);
  };

/** `host:port` (IPv6 as `[::1]:port`). */
export const address: Parser<{ host: string; port: number }> = (raw) => {
  const a = parseAddress(String(raw));
  return a ? ok(a) : no("host:port");
};

/** Any string; a YAML number is taken as its text (the manager's paths and names). */
export const text: Parser<string> = (raw) =>
  typeof raw === "string" || typeof raw === "number" ? ok(String(raw)) : no("a string");

/** A YAML string and nothing else (the daemon's keys). */
export const strictText: Parser<string> = (raw) =>
  typeof raw === "string" ? ok(raw) : no("a string");

/** `true` or `false`, also as text (environment values are text). */
export const boolean: Parser<boolean> = (raw) => {
  const s = String(raw).trim().toLowerCase();
  return s === "true" || s === "false" ? ok(s === "true") : no("true or false");
};

/** A YAML boolean and nothing else (the daemon's keys). */
export const strictBoolean: Parser<boolean> = (raw) =>
  typeof raw === "boolean" ? ok(raw) : no("true or false");

/** One of `values`, case-insensitive. */
export const oneOf =
  <T extends string>(values: readonly T[]): Parser<T> =>
  (raw) => {
    const s = String(raw).toLowerCase();
    return (values as readonly string[]).includes(s)
      ? ok(s as T)
      : no(`one of ${values.join(", ")}`);
  };

/** `inner`, but only for a string (a YAML number or list is refused as "a string"). */
export const stringThen =
  <T>(inner: Parser<T>): Parser<T> =>
  (raw) =>
    typeof raw === "string" ? inner(raw) : no("a string");

/** A YAML list of strings. */
export const stringList: Parser<string[]> = (raw) =>
  Array.isArray(raw) && raw.every((x) => typeof x === "string")
    ? ok(raw as string[])
    : { ok: false, expected: "a list of strings", showGot: false };

/** Bearer tokens: long enough not to be guessed, no whitespace to get lost in headers. */
export const token: Parser<string> = (raw) => {
  const s = typeof raw === "string" ? raw.trim() : "";
  return s === "" || (s.length >= 16 && s.length <= 4096 && /^[\x21-\x7e]+$/.test(s))
    ? ok(s)
    : no("16 to 4096 printable ASCII characters without spaces");
};

export const postgresUrl: Parser<string | undefined> = (raw) => {
  const s = String(raw);
  return /^postgres(ql)?:\/\//.test(s) ? ok(s) : no("a postgres:// URL");
};

/** Hides the password of a URL (`postgres://u:***@h/db`) in messages. */
export const maskUrlPassword = (raw: unknown) => String(raw).replace(/:[^:@/]*@/, ":***@");

/** `auto` (`auto()`), else `inner`; the expectation names both. */
export const autoOr =
  (auto: () => number, inner: Parser<number>): Parser<number> =>
  (raw) => {
    if (String(raw).trim().toLowerCase() === "auto") return ok(auto());
    const r = inner(raw);
    return r.ok ? r : no(`"auto" or ${r.expected}`);
  };
