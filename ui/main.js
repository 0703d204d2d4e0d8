// Page logic. Talks to the backend only through ./ipc.js.
import { appInfo } from "./ipc.js";

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

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", showAppInfo, { once: true });
} else {
  showAppInfo();
}
