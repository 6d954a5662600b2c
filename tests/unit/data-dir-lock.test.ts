import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DataDirLockedError, LOCK_FILE, lockDataDir } from "../../src/manager/db/data-dir-lock.js";

const dir = () => mkdtempSync(join(tmpdir(), "fleet-lock-"));

/** A pid that is certainly gone: a child that has already exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], {
    encoding: "utf8",
  });
  return Number(child.stdout);
}

describe("PGlite data directory lock", () => {
  it("writes this pid, refuses a second lock, and is free again after release", () => {
    const d = dir();
    const release = lockDataDir(d);
    expect(readFileSync(join(d, LOCK_FILE), "utf8")).toBe(`${process.pid}\n`);
    expect(() => lockDataDir(d)).toThrow(DataDirLockedError);
    expect(() => lockDataDir(d)).toThrow(
      `data directory ${d} is in use by another fleet-manager (pid ${process.pid}, ${join(d, LOCK_FILE)}); stop it first, or use another FLEET_DATA_DIR, or DATABASE_URL for several managers`,
    );
    release();
    expect(existsSync(join(d, LOCK_FILE))).toBe(false);
    lockDataDir(d)();
  });

  it("refuses a lock held by another live process", async () => {
    const d = dir();
    const other = spawn("sleep", ["30"]);
    try {
      writeFileSync(join(d, LOCK_FILE), `${other.pid}\n`);
      expect(() => lockDataDir(d)).toThrow(`(pid ${other.pid},`);
      // Refusing does not remove the other process's lock.
      expect(readFileSync(join(d, LOCK_FILE), "utf8")).toBe(`${other.pid}\n`);
    } finally {
      other.kill("SIGKILL");
    }
  });

  it("takes over a stale lock (its process is gone) or one that is not a pid", () => {
    for (const content of [`${deadPid()}\n`, "garbage", ""]) {
      const d = dir();
      writeFileSync(join(d, LOCK_FILE), content);
      const release = lockDataDir(d);
      expect(readFileSync(join(d, LOCK_FILE), "utf8")).toBe(`${process.pid}\n`);
      release();
    }
  });

  it("release leaves a lock that is no longer ours", () => {
    const d = dir();
    const release = lockDataDir(d);
    writeFileSync(join(d, LOCK_FILE), "12345\n");
    release();
    expect(readFileSync(join(d, LOCK_FILE), "utf8")).toBe("12345\n");
  });
});
