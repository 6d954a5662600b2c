import { describe, expect, it } from "vitest";
import { parseYamlConfig, readConfigFile } from "../../src/common/config-load.js";
import { ConfigError } from "../../src/common/errors.js";

// The config files are read with js-yaml (a lighter daemon); these pin what an
// operator's file means, the same as it did with the `yaml` package before.
describe("YAML config files", () => {
  it("an empty file, or one of comments only, sets nothing", () => {
    expect(parseYamlConfig("", "d.yaml")).toEqual({});
    expect(parseYamlConfig("  \n", "d.yaml")).toEqual({});
    expect(parseYamlConfig("# all commented out\n#daemon:\n#  id: x\n", "d.yaml")).toEqual({});
    expect(parseYamlConfig("---\n", "d.yaml")).toEqual({});
  });

  it("reads YAML 1.2 core scalars: dates, yes/no and durations stay strings", () => {
    const doc = parseYamlConfig(
      "daemon:\n  since: 2026-01-01\n  flag: yes\n  interval: 30s\n  port: 0o17\n  on: true\n",
      "d.yaml",
    );
    expect(doc).toEqual({
      daemon: { since: "2026-01-01", flag: "yes", interval: "30s", port: 15, on: true },
    });
  });

  it("refuses a list, two documents and a repeated key, naming the flag and the file", () => {
    const read = (text: string) => () => readConfigFile(["--config", "d.yaml"], () => text);
    expect(read("- a\n- b\n")).toThrow(/--config \(d\.yaml\): d\.yaml: expected a YAML mapping/);
    expect(read("a: 1\n---\nb: 2\n")).toThrow(
      /--config \(d\.yaml\): expected one YAML document, found 2/,
    );
    expect(read("a: 1\na: 2\n")).toThrow(ConfigError);
    expect(read("a: 1\na: 2\n")).toThrow(/--config \(d\.yaml\): duplicated mapping key \(2:1\)/);
    expect(read("a: [1, 2\n")).toThrow(/--config \(d\.yaml\): /);
  });
});
