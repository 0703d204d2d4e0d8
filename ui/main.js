// Page logic. Talks to the backend only through ./ipc.js.
import { appInfo, engineStatus } from "./ipc.js";

function setText(id, text) {
  const element = document.getElementById(id);
  if (element) {
    element.textContent = text;
  }
}

function showStatus(message, kind = "info") {
  const status = document.getElementById("status");
  if (status) {
    status.dataset.kind = kind;
    status.textContent = message;
  }
}

async function showAppInfo() {
  try {
    const info = await appInfo();
    setText("app-name", info.name);
    setText("app-version", `v${info.version}`);
    setText("fact-name", info.name);
    setText("fact-version", info.version);
    document.title = info.name;
    showStatus("");
  } catch (error) {
    setText("fact-name", "unknown");
    setText("fact-version", "unknown");
    showStatus(`Could not read the app info: ${error instanceof Error ? error.message : String(error)}`, "error");
  }
}

function configuredText(status) {
  if (status.configured_store === null) {
    return `daemon.json unreadable: ${status.config_error ?? "unknown error"}`;
  }
  if (status.configured_store === "default") {
    return status.effective_default ? `not set (default for this engine: ${status.effective_default})` : "not set";
  }
  return status.configured_store;
}

async function showEngineStatus() {
  const card = document.getElementById("engine-card");
  try {
    const st = await engineStatus();
    setText("engine-name", `${st.engine.name} (${st.engine.kind}) ${st.engine.host}`);
    setText("engine-version", st.engine_version ? `${st.engine_version} (API ${st.api_version})` : "not reachable");
    setText("engine-active-store", st.active_store ? `${st.active_store} (${st.driver})` : "unknown");
    setText("engine-configured-store", configuredText(st));
    setText("engine-counts", st.reachable ? `${st.images} / ${st.containers}` : "-");
    setText("engine-config-file", st.engine.config_file);
    if (!st.reachable) {
      showStatus(`The engine did not answer: ${st.error ?? "unknown error"}`, "error");
    } else if (st.in_agreement === false) {
      showStatus("daemon.json asks for a different image store than the one running: restart the engine to apply it.", "warning");
    }
  } catch (error) {
    setText("engine-name", "none");
    showStatus(`Could not reach an engine: ${error && error.message ? error.message : String(error)}`, "error");
  } finally {
    card?.setAttribute("aria-busy", "false");
  }
}

async function start() {
  await showAppInfo();
  await showEngineStatus();
}

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", start, { once: true });
} else {
  start();
}
