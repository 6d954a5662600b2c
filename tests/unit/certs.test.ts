import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { writeCertificates } from "../../src/manager/certs.js";

describe("fleet-manager certs", () => {
  const parent = mkdtempSync(join(tmpdir(), "fleet-certs-"));
  afterAll(() => rmSync(parent, { recursive: true, force: true }));

  it("writes keys 0600 (never readable by others), certificates 0644, in a 0700 folder", () => {
    const dir = join(parent, "out");
    const written = writeCertificates({
      outDir: dir,
      nodes: ["web-1"],
      hosts: ["localhost", "127.0.0.1"],
      days: 1,
    });
    expect(written.sort()).toEqual(
      ["ca.key", "ca.pem", "node-web-1.key", "node-web-1.pem", "server.key", "server.pem"].sort(),
    );
    const mode = (f: string) => statSync(join(dir, f)).mode & 0o777;
    expect(mode(".")).toBe(0o700);
    for (const f of written) expect(mode(f), f).toBe(f.endsWith(".key") ? 0o600 : 0o644);
  });
});
