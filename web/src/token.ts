import { h } from "./dom.js";

// Per tab by default: a token in sessionStorage is gone when the tab closes.
const SESSION_KEY = "fleet.apiToken";
// Only after the user ticked "remember": kept across restarts of the browser.
const REMEMBERED_KEY = "fleet.apiToken.remembered";
// Where versions before this one kept the token without asking.
const LEGACY_KEY = "fleet.apiToken";

/** The API token the user entered (FLEET_API_TOKEN): this tab's, else a remembered one. */
export function apiToken(): string {
  const legacy = localStorage.getItem(LEGACY_KEY);
  if (legacy !== null) {
    // Kept without the user's say: move it to this tab only.
    localStorage.removeItem(LEGACY_KEY);
    if (!sessionStorage.getItem(SESSION_KEY)) sessionStorage.setItem(SESSION_KEY, legacy);
  }
  return sessionStorage.getItem(SESSION_KEY) ?? localStorage.getItem(REMEMBERED_KEY) ?? "";
}

/** Keeps the token for this tab, and across browser restarts only when `remember`. */
export function setApiToken(token: string, remember = false): void {
  sessionStorage.removeItem(SESSION_KEY);
  localStorage.removeItem(REMEMBERED_KEY);
  if (!token) return;
  if (remember) localStorage.setItem(REMEMBERED_KEY, token);
  else sessionStorage.setItem(SESSION_KEY, token);
}

/**
 * The form that asks for the token; submitting stores it and reloads. With
 * `rejected`, it says the manager refused the token this browser had.
 */
export function renderTokenPrompt(app: HTMLElement, rejected = false): void {
  const input = h("input", {
    type: "password",
    placeholder: "FLEET_API_TOKEN",
    autocomplete: "off",
    required: true,
  });
  const remember = h("input", { type: "checkbox", id: "remember-token" });
  const form = h(
    "form",
    { class: "panel token" },
    h("h1", {}, "API token required"),
    rejected
      ? h(
          "p",
          { class: "error", id: "token-rejected" },
          "The manager rejected the token. Enter the current one.",
        )
      : null,
    h(
      "p",
      {},
      "This manager requires an API token. It is kept for this tab only, unless you tick the box.",
    ),
    input,
    h(
      "label",
      { for: "remember-token" },
      remember,
      " remember on this computer (kept in the browser's local storage)",
    ),
    h("button", { type: "submit" }, "continue"),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    setApiToken(input.value.trim(), remember.checked);
    window.location.reload();
  });
  app.replaceChildren(form);
}
