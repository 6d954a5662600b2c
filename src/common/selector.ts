import { InvalidArgumentError } from "./errors.js";

/** One clause of a label selector: `k=v`, `k!=v`, `k` (exists) or `!k` (absent). */
export type SelectorClause =
  | { op: "eq" | "neq"; key: string; value: string }
  | { op: "exists" | "absent"; key: string };

const KEY = /^[A-Za-z_][A-Za-z0-9_./-]{0,62}$/;

/** Parses "env=prod,role!=db,gpu,!spot"; errors name the clause. */
export function parseSelector(text: string, field = "selector"): SelectorClause[] {
  const clauses: SelectorClause[] = [];
  if (text.trim() === "") return clauses;
  if (text.length > 1024)
    throw new InvalidArgumentError(field, `must be at most 1024 characters, got ${text.length}`);
  for (const raw of text.split(",")) {
    const part = raw.trim();
    const m = /^(!?)([^=!]+?)\s*(?:(!=|==|=)\s*(.*))?$/.exec(part);
    const key = m?.[2]?.trim() ?? "";
    if (!m || !KEY.test(key) || (m[1] && m[3])) {
      throw new InvalidArgumentError(field, `bad clause "${part}": expected k=v, k!=v, k or !k`);
    }
    if (m[3]) {
      const value = (m[4] ?? "").trim();
      if (value.length > 255)
        throw new InvalidArgumentError(field, `value of "${key}" must be at most 255 characters`);
      clauses.push({ op: m[3] === "!=" ? "neq" : "eq", key, value });
    } else {
      clauses.push({ op: m[1] ? "absent" : "exists", key });
    }
  }
  return clauses;
}
