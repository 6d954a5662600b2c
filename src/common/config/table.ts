/**
 * The one configuration mechanism of both programs: a program describes each
 * key once, as data (YAML path, config field, parser, environment variable,
 * flag, one-line doc, secret or not), and this file loads it (defaults, then
 * the YAML file, then the environment, then flags), words every problem the
 * same way, finds unknown keys with the nearest known one, and writes the
 * documentation rows. Rules between keys stay in each program's config.ts.
 */
import { getPath } from "../config-load.js";
import type { ConfigKeyDoc } from "./doc.js";
import { checkConfigKeys } from "./keys-check.js";
import type { Parser } from "./parsers.js";

type Leaf = string | number | boolean | null | undefined | readonly unknown[];
/** Dotted paths into a config type: `heartbeat.flushIntervalMs`, `grpcAddr`. */
export type FieldPath<T> = {
  [K in keyof T & string]: T[K] extends Leaf ? K : K | `${K}.${FieldPath<T[K]>}`;
}[keyof T & string];
/** The type at a dotted path. */
export type FieldValue<T, P extends string> = P extends `${infer H}.${infer R}`
  ? H extends keyof T
    ? FieldValue<T[H], R>
    : never
  : P extends keyof T
    ? T[P]
    : never;

/** One key of a table (untyped form; write entries with `keyOf<Config>()`). */
export interface ConfigKey<C> {
  /** Dotted YAML path, e.g. `heartbeat.flush_interval`. */
  yaml: string;
  /** The config field it sets; absent: the program reads it itself (docs and known keys only). */
  field?: FieldPath<C>;
  parse?: Parser<unknown>;
  /** Environment variable; a non-empty value wins over the file. */
  env?: string;
  /** The variable applies only when the file sets no value or "" (the daemon's NODE_NAME). */
  envFallback?: true;
  /** Command-line flag (`--name`); wins over the environment. */
  flag?: string;
  /** One line for docs/configuration.md. */
  doc: string;
  /** How the default is written in the docs (the inverse of parse). */
  format?: (value: never) => string;
  /** The docs' default when the field's value says too little (`[] (all)`). */
  defaultDoc?: string;
  /** Never shown in messages (`***`), or shown through this mask. */
  secret?: true | ((raw: unknown) => string);
  /** A free mapping (`daemon.labels`): not walked by the unknown-key check. */
  map?: true;
  /** A YAML value the loader must refuse naming this key (tests keep the table honest). */
  invalid?: unknown;
}

type TypedKey<C, P extends FieldPath<C>> = Omit<ConfigKey<C>, "field" | "parse" | "format"> & {
  field: P;
  parse: Parser<FieldValue<C, P>>;
  format?: (value: FieldValue<C, P>) => string;
};

/** `const key = keyOf<ManagerConfig>()`: entries whose parser and format fit their field. */
export const keyOf =
  <C>() =>
  <P extends FieldPath<C>>(spec: TypedKey<C, P>): ConfigKey<C> =>
    spec as unknown as ConfigKey<C>;

export interface LoadTableInput {
  /** The parsed YAML file (`{}` without one) and its name for messages. */
  file: Record<string, unknown>;
  source: string;
  env: Readonly<Record<string, string | undefined>>;
  /** Flag values by name; undefined = not given. */
  flags?: Readonly<Record<string, string | undefined>>;
  /**
   * Check the value from every source, not only the one that wins (the
   * daemon's strictness: a bad file value is reported even when the
   * environment overrides it).
   */
  checkEverySource?: boolean;
  /** Another system's keys accepted with one warning each (see keys-check.ts). */
  accepted?: readonly { key: string; why: string }[];
}

export interface LoadTableResult {
  /** `key (source): expected …, got …` and unknown keys, in table then file order. */
  problems: string[];
  warnings: string[];
  /** Where each set value came from (`d.yaml`, `env NODE_NAME`, `--log-level`), by YAML key. */
  sources: Map<string, string>;
}

/** Applies every key of `table` to `target` (a copy of the defaults), collecting problems. */
export function loadTable<C extends object>(
  table: readonly ConfigKey<C>[],
  target: C,
  input: LoadTableInput,
): LoadTableResult {
  const problems: string[] = [];
  const sources = new Map<string, string>();
  for (const k of table) {
    if (!k.parse || !k.field) continue;
    const given: { raw: unknown; source: string }[] = [];
    const fromFile = getPath(input.file, k.yaml);
    if (fromFile !== undefined && fromFile !== null)
      given.push({ raw: fromFile, source: input.source });
    const fromEnv = k.env ? input.env[k.env] : undefined;
    if (fromEnv !== undefined && fromEnv !== "" && !(k.envFallback && fromFile && fromFile !== ""))
      given.push({ raw: fromEnv, source: `env ${k.env}` });
    const fromFlag = k.flag ? input.flags?.[k.flag] : undefined;
    if (fromFlag !== undefined) given.push({ raw: fromFlag, source: `--${k.flag}` });
    for (const { raw, source } of input.checkEverySource ? given : given.slice(-1)) {
      const r = k.parse(raw);
      if (r.ok) {
        setPath(target, k.field, r.value);
        sources.set(k.yaml, source);
        continue;
      }
      const shown = k.secret === true ? "***" : k.secret ? k.secret(raw) : raw;
      problems.push(
        `${k.yaml} (${source}): expected ${r.expected}${r.showGot === false ? "" : `, got ${JSON.stringify(shown)}`}`,
      );
    }
  }
  // YAML keys nobody reads are mistakes (a typo silently keeping a default).
  const strict = checkConfigKeys(input.file, {
    source: input.source,
    known: table.filter((k) => !k.map).map((k) => k.yaml),
    maps: table.filter((k) => k.map).map((k) => k.yaml),
    accepted: input.accepted,
  });
  problems.push(...strict.problems);
  return { problems, warnings: strict.warnings, sources };
}

function setPath(target: object, path: string, value: unknown): void {
  const parts = path.split(".");
  let at = target as Record<string, unknown>;
  for (const p of parts.slice(0, -1)) at = at[p] as Record<string, unknown>;
  at[parts.at(-1) as string] = value;
}

/** The documentation rows of a table, defaults written from `defaults`. */
export function docRows<C extends object>(
  table: readonly ConfigKey<C>[],
  defaults: C,
): (ConfigKeyDoc & { invalid: unknown })[] {
  return table.map((k) => {
    const v = k.field ? getPath(defaults as Record<string, unknown>, k.field) : undefined;
    const fmt = (k.format ?? ((x: unknown) => (x === undefined ? "" : String(x)))) as (
      x: unknown,
    ) => string;
    return {
      yaml: k.yaml,
      env: k.env,
      default: k.defaultDoc ?? fmt(v),
      description: k.doc,
      invalid: k.invalid,
    };
  });
}
