// About / Troubleshoot: versions, the log folder, and a diagnostics bundle to attach to a report.
import * as ipc from "../ipc.js";
import { errorView, facts, h, pathText, replace } from "../ui.js";

function webkitVersion() {
  const m = /AppleWebKit\/([\d.]+)/.exec(navigator.userAgent);
  return m ? `WebKit ${m[1]}` : navigator.userAgent;
}

export default {
  id: "about",
  title: "About / Troubleshoot",

  async mount(root, ctx) {
    this.ctx = ctx;
    this.versions = h("section", { class: "card", "aria-labelledby": "about-versions-title", "aria-busy": "true" }, h("h2", { id: "about-versions-title" }, "Versions"));
    this.result = h("div", { id: "about-result", role: "status", "aria-live": "polite" });
    const tools = h(
      "section",
      { class: "card", "aria-labelledby": "about-tools-title" },
      h("h2", { id: "about-tools-title" }, "Troubleshoot"),
      h("p", {}, "A diagnostics bundle holds the engine's status, its features, the known-issue checks with their evidence, daemon.json and Stowage's settings with secrets (passwords, tokens, credentials in URLs) removed, and recent log lines. Read it before you share it."),
      h(
        "div",
        { class: "actions" },
        h("button", { type: "button", id: "about-export", class: "primary", onclick: () => this.export(false) }, "Save diagnostics bundle"),
        h("button", { type: "button", id: "about-export-as", class: "secondary", onclick: () => this.export(true) }, "Save as…"),
        h("button", { type: "button", id: "about-logs", class: "secondary", onclick: () => this.openLogs() }, "Open log folder"),
      ),
      this.result,
    );
    replace(root, this.versions, tools);
    try {
      const v = await ipc.aboutVersions();
      replace(
        this.versions,
        h("h2", { id: "about-versions-title" }, "Versions"),
        facts([
          ["Stowage", v.app, "about-app-version"],
          ["Tauri", v.tauri],
          ["Web view", webkitVersion()],
          ["Docker Engine", v.engine ? `${v.engine} (API ${v.api})` : "not answering"],
          ["buildx", v.buildx ?? "not found"],
          ["System", [v.os, v.kernel].filter(Boolean).join(", ") || "unknown"],
          ["stowctl", v.stowctl ?? "not found"],
          ["Log folder", pathText(v.log_dir), "about-log-dir"],
          ["Settings file", pathText(v.settings_file), "about-settings-file"],
        ]),
      );
    } catch (error) {
      replace(this.versions, h("h2", { id: "about-versions-title" }, "Versions"), errorView(error));
    } finally {
      this.versions.setAttribute("aria-busy", "false");
    }
  },

  async export(choose) {
    replace(this.result, h("p", { class: "muted" }, "Writing the bundle…"));
    try {
      const path = await ipc.aboutExportDiagnostics(choose);
      if (path === null) {
        replace(this.result, h("p", { class: "muted" }, "Not saved."));
        return;
      }
      const copied = h("span", { id: "about-copied", class: "muted", "aria-live": "polite" });
      replace(
        this.result,
        h("p", {}, "Saved the diagnostics bundle as ", h("code", { id: "about-bundle-path", class: "path" }, pathText(path)), "."),
        h(
          "div",
          { class: "actions" },
          h("button", { type: "button", id: "about-reveal", class: "secondary", onclick: () => this.reveal(path) }, "Show in folder"),
          h("button", { type: "button", id: "about-copy-path", class: "secondary", onclick: () => this.copyPath(path, copied) }, "Copy path"),
          copied,
        ),
      );
      this.result.scrollIntoView({ block: "nearest" });
    } catch (error) {
      replace(this.result, errorView(error, "The bundle could not be written."));
    }
  },

  async reveal(path) {
    try {
      await ipc.revealSavedFile(path);
    } catch (error) {
      this.ctx.notice("The folder could not be shown.", error?.detail ?? error?.message ?? String(error));
    }
  },

  async copyPath(path, status) {
    try {
      await navigator.clipboard.writeText(path);
      status.textContent = "Path copied.";
    } catch {
      // No clipboard access: select the path so Ctrl+C copies it.
      const code = document.getElementById("about-bundle-path");
      const range = document.createRange();
      range.selectNodeContents(code);
      const sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
      status.textContent = document.execCommand("copy") ? "Path copied." : "Press Ctrl+C to copy the selected path.";
    }
  },

  async openLogs() {
    try {
      const path = await ipc.aboutOpenLogFolder();
      replace(this.result, h("p", {}, "Opened ", h("code", { class: "path" }, pathText(path)), "."));
    } catch (error) {
      replace(this.result, errorView(error, "The log folder could not be opened."));
    }
  },

  onEvent() {},
};
