import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/common/errors.js";
import { createTokenCheck } from "../../src/manager/bearer-token.js";
import { loadManagerConfig, MANAGER_DEFAULTS } from "../../src/manager/config.js";

const load = (env: Record<string, string>, files: Record<string, string> = {}) =>
  loadManagerConfig({
    argv: [],
    env,
    readFile: (p) => {
      const text = files[p];
      if (text === undefined) throw Object.assign(new Error(`ENOENT ${p}`), { code: "ENOENT" });
      return text;
    },
  });

const problems = (fn: () => unknown): string[] => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return [...(err as ConfigError).problems];
  }
  throw new Error("expected ConfigError");
};

describe("security configuration", () => {
  it("reads the DESIGN §3 variables", () => {
    const c = load(
      {
        FLEET_TLS_CERT: "s.pem",
        FLEET_TLS_KEY: "s.key",
        FLEET_TLS_CLIENT_CA: "ca.pem",
        FLEET_API_TOKEN: "api-token-0123456789",
        FLEET_ENROLL_TOKEN: "enroll-token-0123456789",
      },
      { "s.pem": "x", "s.key": "x", "ca.pem": "x" },
    );
    expect(c.tls).toEqual({
      ...MANAGER_DEFAULTS.tls,
      certFile: "s.pem",
      keyFile: "s.key",
      clientCaFile: "ca.pem",
    });
    expect(c.auth).toEqual({
      apiToken: "api-token-0123456789",
      enrollToken: "enroll-token-0123456789",
      bindNodeIdentity: true,
    });
  });

  it("refuses half-set or unreadable TLS files and weak tokens, never echoing a token", () => {
    const p = problems(() =>
      load({
        FLEET_TLS_CERT: "s.pem",
        FLEET_TLS_CLIENT_CA: "ca.pem",
        FLEET_API_TOKEN: "short secret",
      }),
    );
    expect(p.join("\n")).toMatch(
      /cert \(FLEET_TLS_CERT\) and key \(FLEET_TLS_KEY\) must be set together/,
    );
    expect(p.join("\n")).toMatch(/tls\.client_ca .*needs tls\.cert and tls\.key/);
    expect(p.join("\n")).toMatch(/tls\.cert: cannot read "s\.pem" \(ENOENT\)/);
    expect(p.join("\n")).toMatch(
      /auth\.api_token \(env FLEET_API_TOKEN\): expected 16 to 4096 .*got "\*\*\*"/,
    );
    expect(p.join("\n")).not.toContain("short secret");
  });

  it("compares bearer tokens exactly", () => {
    const ok = createTokenCheck("0123456789abcdef-token");
    expect(ok("Bearer 0123456789abcdef-token")).toBe(true);
    expect(ok("bearer 0123456789abcdef-token")).toBe(true);
    expect(ok("Bearer 0123456789abcdef-toke")).toBe(false);
    expect(ok("Bearer 0123456789abcdef-tokenX")).toBe(false);
    expect(ok("0123456789abcdef-token")).toBe(false);
    expect(ok("Basic 0123456789abcdef-token")).toBe(false);
    expect(ok(undefined)).toBe(false);
    expect(ok("")).toBe(false);
  });
});
