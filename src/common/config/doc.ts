/** One documented configuration key; docs/configuration.md is generated from tables of these. */
export interface ConfigKeyDoc {
  yaml: string;
  env: string | undefined;
  default: string;
  description: string;
}

/** A Markdown table of config keys (pipes in values escaped). */
export function renderConfigTable(keys: readonly ConfigKeyDoc[]): string {
  const cell = (s: string) => s.replace(/\|/g, "\\|");
  const rows = keys.map(
    (k) =>
      `| \`${k.yaml}\` | ${k.env ? `\`${k.env}\`` : ""} | ${k.default === "" ? '`""`' : `\`${cell(k.default)}\``} | ${cell(k.description)} |`,
  );
  return ["| YAML key | environment | default | meaning |", "|---|---|---|---|", ...rows].join(
    "\n",
  );
}
