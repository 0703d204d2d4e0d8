// Engine: status, Restart (with progress), the daemon.json preview and recent daemon log lines.
import * as ipc from "../ipc.js";
import { PlanView } from "../plan-view.js";
import { ProgressPanel } from "../progress.js";
import { sinceText } from "../time.js";
import { callErrorView, engineLabel, errorView, facts, h, pathText, remoteBusy, replace, rich } from "../ui.js";

function configured(st) {
  if (st.configured_store === null || st.configured_store === undefined) {
    return `daemon.json unreadable: ${st.config_error ?? "unknown error"}`;
  }
  if (st.configured_store === "default") {
    return st.effective_default ? `not set (this engine's default: ${st.effective_default})` : "not set";
  }
  return st.configured_store;
}

export default {
  id: "engine",
  title: "Engine",

  async mount(root, ctx) {
    this.ctx = ctx;
    this.statusBox = h("section", { class: "card", "aria-labelledby": "engine-status-title", "aria-busy": "true" }, h("h2", { id: "engine-status-title" }, "Status"));
    this.restartButton = h("button", { type: "button", id: "engine-restart", class: "secondary", onclick: () => this.askRestart() }, "Restart engine");
    this.planView = new PlanView("restart-plan");
    this.confirmBox = this.planView.el;
    this.progress = new ProgressPanel("restart", "Restarting the engine", "The restart");
    this.configBox = h("section", { class: "card", "aria-labelledby": "engine-config-title" }, h("h2", { id: "engine-config-title" }, "daemon.json"));
    this.logBox = h("section", { class: "card", "aria-labelledby": "engine-log-title" }, h("h2", { id: "engine-log-title" }, "Recent daemon log"));
    replace(root, this.statusBox, h("div", { class: "actions" }, this.restartButton), this.confirmBox, this.progress.el, this.configBox, this.logBox);
    if (ctx.remote) {
      // Another host's engine: its status, through its stowctl; its files and log stay there.
      this.restartButton.hidden = true;
      const note = (title, id, text) => replace(title, h("h2", { id }, title.querySelector("h2").textContent), h("p", { class: "muted" }, text));
      note(this.configBox, "engine-config-title", `daemon.json is on ${ctx.remote.name}: Stowage shows its changes in a plan before anything is written.`);
      note(this.logBox, "engine-log-title", `The daemon's log is on ${ctx.remote.name}.`);
      await this.loadStatus();
      return;
    }
    await Promise.all([this.loadStatus(), this.loadConfig(), this.loadLogs()]);
    // The tray's Restart, when it would stop running containers: its plan, here.
    if (ctx.takeIntent?.("engine")?.restart) this.askRestart();
  },

  async loadStatus() {
    const remote = this.ctx.remote;
    if (remote) replace(this.statusBox, h("h2", { id: "engine-status-title" }, "Status"), remoteBusy(remote, "its engine's status", "engine-busy"));
    try {
      const st = await ipc.engineStatus();
      this.ctx.showStatus(st);
      if (st.remote) return this.remoteStatus(st);
      const e = st.engine;
      this.containersRunning = st.containers_running ?? 0;
      this.bringUp = st.bring_up;
      this.restartButton.hidden = !st.reachable;
      replace(
        this.statusBox,
        h("h2", { id: "engine-status-title" }, "Status"),
        st.sandbox_notice ? h("p", { class: "warning", id: "engine-sandbox", role: "note" }, rich(st.sandbox_notice)) : null,
        st.reachable ? null : this.stoppedView(st),
        st.reachable && st.in_agreement === false ? this.pendingView(st) : null,
        facts([
          ["Engine", `${engineLabel(e)} (${e.name}, ${e.kind})`, "engine-name"],
          ["Version", st.engine_version ? `${st.engine_version} (API ${st.api_version})` : "not answering", "engine-version"],
          ["Active image store", st.active_store ? `${st.active_store} (${st.driver})` : "unknown", "engine-active-store"],
          ["Configured image store", configured(st), "engine-configured-store"],
          ["Images / containers", st.reachable ? `${st.images} / ${st.containers} (${st.containers_running ?? 0} running)` : "—", "engine-counts"],
          ["Socket", pathText(e.host), "engine-socket"],
          ["Config file", pathText(e.config_file), "engine-config-file"],
          ["Restart method", st.restart_method ?? "unknown", "engine-restart-method"],
        ]),
      );
    } catch (error) {
      if (remote) this.ctx.chipAsking(remote, error);
      replace(this.statusBox, h("h2", { id: "engine-status-title" }, "Status"), callErrorView(error, null, remote ? () => this.loadStatus() : null));
    } finally {
      this.statusBox.setAttribute("aria-busy", "false");
    }
  },

  /** Another host's engine: what its stowctl says, with the host first. */
  remoteStatus(st) {
    const e = st.engine;
    const r = st.remote;
    replace(
      this.statusBox,
      h("h2", { id: "engine-status-title" }, "Status"),
      h("p", { class: "muted", id: "engine-remote" }, `On ${r.name} (${r.address}), as its stowctl reports it over ssh.`),
      st.reachable ? null : h("p", { class: "warning", id: "engine-stopped", role: "status" }, `The engine on ${r.name} does not answer${st.error ? `: ${st.error}` : "."}`),
      st.reachable && st.in_agreement === false ? h("p", { class: "warning", id: "engine-pending", role: "status" }, `daemon.json on ${r.name} asks for the ${st.configured_store} store; the engine runs the ${st.active_store} store until it restarts.`) : null,
      facts([
        ["Host", r.address, "engine-host"],
        ["Engine", `${engineLabel(e)} (${e.name}, ${e.kind})`, "engine-name"],
        ["Version", st.engine_version ? `${st.engine_version} (API ${st.api_version})` : "not answering", "engine-version"],
        ["Active image store", st.active_store ? `${st.active_store} (${st.driver})` : "unknown", "engine-active-store"],
        ["Configured image store", configured(st), "engine-configured-store"],
        ["Images / containers", st.reachable ? `${st.images} / ${st.containers} (${st.containers_running ?? 0} running)` : "—", "engine-counts"],
        ["Socket", pathText(e.host), "engine-socket"],
        ["Config file", pathText(e.config_file), "engine-config-file"],
      ]),
      h("div", { class: "actions" }, h("button", { type: "button", class: "secondary", id: "engine-reload", onclick: () => this.loadStatus() }, "Read again")),
    );
  },

  /** The chosen engine stopped: it stays chosen; Start when Stowage knows how to start it. */
  stoppedView(st) {
    const since = st.stopped_since ? ` ${sinceText(st.stopped_since)}` : "";
    return h(
      "div",
      { id: "engine-stopped", class: "warning", role: "status" },
      h("p", {}, h("strong", {}, `Engine stopped${since}.`), ` ${engineLabel(st.engine)} does not answer at ${st.engine.host}; nothing can be applied until it runs again.`),
      st.error ? h("p", { class: "muted" }, st.error) : null,
      st.can_start
        ? h("button", { type: "button", id: "engine-start", class: "primary", onclick: () => this.restart(true) }, "Start engine")
        : h("p", { class: "muted" }, "Stowage does not know how to start this engine: start it the way it is usually started."),
    );
  },

  /** daemon.json was changed (by hand) and the engine still runs the other store. */
  pendingView(st) {
    return h(
      "div",
      { id: "engine-pending", class: "warning", role: "status" },
      h("p", {}, `daemon.json differs from what the engine runs: it asks for the ${st.configured_store === "default" ? (st.effective_default ?? "default") : st.configured_store} store, the engine runs the ${st.active_store} store. The change takes effect when the engine restarts.`),
      h("button", { type: "button", id: "engine-apply-pending", class: "secondary", onclick: () => this.askRestart() }, "Restart to apply"),
    );
  },

  async loadConfig() {
    const title = h("h2", { id: "engine-config-title" }, "daemon.json");
    try {
      const c = await ipc.engineConfig();
      replace(
        this.configBox,
        title,
        h("p", { class: "muted" }, c.path),
        c.error
          ? errorView({ message: "daemon.json could not be read.", detail: c.error })
          : c.exists
            ? h("pre", { id: "engine-config", class: "code", tabindex: "0", "aria-label": "daemon.json content" }, c.text)
            : h("p", { id: "engine-config", class: "muted" }, "The file does not exist: the engine runs on its defaults."),
      );
    } catch (error) {
      replace(this.configBox, title, errorView(error));
    }
  },

  async loadLogs() {
    const title = h("h2", { id: "engine-log-title" }, "Recent daemon log");
    try {
      const l = await ipc.engineLogs();
      replace(
        this.logBox,
        title,
        l.source ? h("p", { class: "muted" }, `From ${l.source}`) : null,
        l.lines.length
          ? h("pre", { id: "engine-log", class: "code log", tabindex: "0", "aria-label": "Recent daemon log lines" }, l.lines.join("\n"))
          : h("p", { id: "engine-log", class: "muted" }, "No daemon log lines were found for this engine."),
      );
    } catch (error) {
      replace(this.logBox, title, errorView(error));
    }
  },

  /** A restart that stops running containers shows its plan first (the same plan view as every
   *  door that restarts the engine: which containers stop, and the offer to start them again). */
  async askRestart() {
    if (!(this.containersRunning > 0)) {
      this.restart(true);
      return;
    }
    this.progress.hide();
    this.planView.busy("Restart the engine?");
    try {
      const plan = await ipc.engineRestartPlan();
      this.planView.show(plan, {
        title: "Restart the engine?",
        applyLabel: "Restart engine",
        onApply: ({ startAgain }) => {
          this.planView.hide();
          this.restart(startAgain);
        },
        onCancel: () => this.planView.hide(),
      });
    } catch (error) {
      this.planView.failed("Restart the engine?", errorView(error, "The restart cannot be planned."), () => this.planView.hide());
    }
  },

  async restart(startAgain = true) {
    this.restartButton.disabled = true;
    for (const b of this.statusBox.querySelectorAll("button")) b.disabled = true;
    this.running = true;
    // A stopped engine is started, a running one restarted: the core's title and stages.
    const b = this.bringUp ?? { title: "Restarting the engine", result_title: "The restart", done_title: "Restarted", stages: ["waiting_for_api", "verifying_store", "done"] };
    this.progress.titles = { running: b.title, done: b.result_title };
    this.progress.start(b.stages);
    try {
      const outcome = await ipc.engineRestart(startAgain);
      this.progress.finish(outcome);
      const title = this.progress.outcome.querySelector(".outcome-title");
      if (title && outcome.outcome === "applied") title.textContent = b.done_title;
    } catch (error) {
      replace(this.progress.outcome, errorView(error));
    } finally {
      this.running = false;
      this.restartButton.disabled = false;
      await Promise.all([this.loadStatus(), this.loadConfig(), this.loadLogs()]);
    }
  },

  onEvent(ev) {
    if (this.progress.follow(ev, (e) => e.kind === "restart")) return;
    switch (ev.type) {
      case "engine_changed":
        if (!this.running && !this.ctx.remote) {
          this.loadStatus();
          if (ev.config_changed) this.loadConfig();
          if (ev.config_changed) this.loadLogs();
        }
        break;
      default:
    }
  },
};
