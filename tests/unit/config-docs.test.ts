import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { CONFIGURATION_DOC_PATH, renderConfigurationDoc } from "../../scripts/gen-config-docs.js";
import { ConfigError } from "../../src/common/errors.js";
import { DAEMON_CONFIG_KEYS, loadDaemonConfig } from "../../src/daemon/config.js";

/** Builds `{a: {b: value}}` from "a.b". */
function nested(path: string, value: unknown): Record<string, unknown> {
  return path
    .split(".")
    .reverse()
    .reduce<unknown>((inner, part) => ({ [part]: inner }), value) as Record<string, unknown>;
}

describe("configuration reference", () => {
  it("docs/configuration.md is what `npm run docs:config` generates", () => {
    expect(readFileSync(CONFIGURATION_DOC_PATH, "utf8")).toBe(renderConfigurationDoc());
  });

  it.each(DAEMON_CONFIG_KEYS.map((k) => [k.yaml, k.invalid] as const))(
    "the daemon loader knows documented key %s (refuses a bad value naming it)",
    (key, invalid) => {
      const yaml = stringify(nested(key, invalid));
      let error: unknown;
      try {
        loadDaemonConfig({
          argv: ["--config", "daemon.yaml"],
          env: {},
          readFile: (p) => {
            if (p === "daemon.yaml") return yaml;
            throw Object.assign(new Error("ENOENT"), { code: "ENOENT" });
          },
        });
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).problems.join("\n")).toContain(
        key.replace(/\.(cert|key|ca)_file$/, ""),
      );
    },
  );
});
