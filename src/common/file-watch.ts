import { type FSWatcher, statSync, watch } from "node:fs";
import { dirname } from "node:path";

export interface FileWatch {
  /** Looks now; calls onChange when any file's stat() differs from the last look. */
  check(): void;
  close(): void;
}

/**
 * Calls `onChange` when one of `files` changes: a watch on each file's folder
 * (which sees a Kubernetes Secret's `..data` symlink swap, where the file's own
 * inode never changes) plus a poll every `intervalMs` for file systems whose
 * events get lost. A look compares stat() of the resolved files, so it costs
 * no read while nothing changed. Events are debounced: a renewal writes
 * several files, and they are looked at once all have landed.
 */
export function watchFiles(
  files: readonly string[],
  opts: { intervalMs: number; onChange: () => void; debounceMs?: number },
): FileWatch {
  let seen = statKey(files);
  let debounce: NodeJS.Timeout | undefined;
  const watchers: FSWatcher[] = [];
  const check = () => {
    const key = statKey(files);
    if (key === seen) return;
    seen = key;
    opts.onChange();
  };
  const soon = () => {
    if (debounce) clearTimeout(debounce);
    debounce = setTimeout(check, opts.debounceMs ?? 100);
    debounce.unref();
  };
  for (const dir of new Set(files.map((f) => dirname(f)))) {
    try {
      const w = watch(dir, { persistent: false }, soon);
      // A folder that goes away (unmounted) leaves the poll to notice its return.
      w.on("error", () => w.close());
      watchers.push(w);
    } catch {
      // Not watchable (some network file systems): the poll covers it.
    }
  }
  const timer = setInterval(check, opts.intervalMs);
  timer.unref();
  return {
    check,
    close() {
      clearInterval(timer);
      if (debounce) clearTimeout(debounce);
      for (const w of watchers) w.close();
    },
  };
}

/** stat() follows symlinks, so a swapped link changes the inode seen here. */
function statKey(files: readonly string[]): string {
  return files
    .map((f) => {
      try {
        const s = statSync(f);
        return `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}`;
      } catch (err) {
        return (err as NodeJS.ErrnoException).code ?? "error";
      }
    })
    .join("|");
}
