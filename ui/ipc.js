// The only module that talks to the Tauri backend. Everything else imports these
// functions, so the page can be rendered (and tested) without window.__TAURI__.

/** Thrown when the page runs outside the Tauri webview (e.g. a plain browser). */
export class IpcUnavailableError extends Error {
  constructor() {
    super("The Stowage backend is not available (not running inside the app).");
    this.name = "IpcUnavailableError";
  }
}

function tauri() {
  const api = globalThis.__TAURI__;
  if (!api || !api.core || !api.event) {
    throw new IpcUnavailableError();
  }
  return api;
}

/** Whether the page runs inside the Tauri webview. */
export function isAvailable() {
  const api = globalThis.__TAURI__;
  return Boolean(api && api.core && api.event);
}

/**
 * Name and version of the running app.
 * @returns {Promise<{name: string, version: string}>}
 */
export function appInfo() {
  return tauri().core.invoke("app_info");
}

/**
 * Subscribes to a backend event.
 * @param {string} event event name
 * @param {(payload: unknown) => void} handler called with each event's payload
 * @returns {Promise<() => void>} resolves to a function that unsubscribes
 */
export function onEvent(event, handler) {
  return tauri().event.listen(event, (message) => handler(message.payload));
}

/**
 * Status of the managed engine (same shape as `stowctl status --json`).
 * @returns {Promise<object>}
 */
export function engineStatus() {
  return tauri().core.invoke("engine_status");
}
