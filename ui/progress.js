// The one progress view of everything that restarts the engine: a staged progress bar with the
// list of stages (the transaction's own, or a migration's steps as they come) and the core's
// outcome sentence. Every page follows its operation's events with it (`follow`).
import * as ipc from "./ipc.js";
import { capitalize, h, replace, stageName } from "./ui.js";

export class ProgressPanel {
  /**
   * @param {string} prefix id prefix ("change" -> #change-progress, #change-outcome)
   * @param {string} title the heading while it runs ("Applying the change")
   * @param {string} doneTitle the heading once it has ended ("The change")
   */
  constructor(prefix, title, doneTitle = "Result") {
    this.prefix = prefix;
    this.titles = { running: title, done: doneTitle };
    this.bar = h("progress", { id: `${prefix}-progress`, max: "1", value: "0", "aria-labelledby": `${prefix}-progress-label` });
    this.label = h("p", { id: `${prefix}-progress-label`, class: "progress-label", "aria-live": "polite" }, "");
    this.list = h("ol", { class: "stages", id: `${prefix}-stages` });
    this.outcome = h("div", { id: `${prefix}-outcome`, class: "outcome", tabindex: "-1", "aria-live": "polite" });
    this.el = h(
      "section",
      { class: "card progress-card", "aria-labelledby": `${prefix}-progress-title`, hidden: true },
      (this.heading = h("h2", { id: `${prefix}-progress-title` }, title)),
      this.bar,
      this.label,
      this.list,
      this.outcome,
    );
    this.expected = [];
    this.finished = false;
  }

  /** Shows the panel for a new operation walking through `expected` stages. */
  start(expected) {
    this.expected = [...expected];
    this.finished = false;
    this.el.hidden = false;
    this.heading.textContent = this.titles.running;
    this.el.classList.remove("rolled-back", "failed");
    this.bar.max = Math.max(1, this.expected.length);
    this.bar.value = 0;
    this.bar.dataset.stage = "";
    this.label.textContent = "Starting…";
    replace(this.outcome);
    delete this.outcome.dataset.outcome;
    this.waitBox?.remove();
    this.waitBox = null;
    this.waitButton = null;
    replace(this.list, this.expected.map((s) => this.item(s)));
    this.projects?.remove();
    this.projects = null;
  }

  /**
   * While a change runs on another host: it is not stopped half-way from here (the host's
   * stowctl finishes or rolls back by itself), but the window may stop waiting for it.
   */
  remote(remote) {
    this.waitBox?.remove();
    // Possible once the host's stowctl has the change (its first stage): stopped earlier, the
    // change might never reach the host.
    this.waitButton = h(
      "button",
      {
        type: "button",
        class: "secondary",
        id: `${this.prefix}-stop-waiting`,
        disabled: true,
        "aria-describedby": `${this.prefix}-remote-wait-text`,
        onclick: (e) => {
          e.target.disabled = true;
          ipc.remoteStopWaiting().then((stopped) => { if (!stopped) e.target.disabled = false; }).catch(() => {});
        },
      },
      "Stop waiting",
    );
    this.waitBox = h(
      "div",
      { class: "remote-wait", id: `${this.prefix}-remote-wait` },
      h("p", { class: "muted", id: `${this.prefix}-remote-wait-text` }, `This runs on ${remote.name} and is not stopped half-way: the stowctl there finishes the change or rolls it back. Once it has the change, Stowage can stop waiting for it.`),
      this.waitButton,
    );
    this.outcome.before(this.waitBox);
  }

  /** The host's stowctl has the change (a stage or a wait came): the window may stop waiting. */
  taken() {
    if (this.waitButton && !this.finished) this.waitButton.disabled = false;
  }

  /** The window stopped waiting (`message`, the core's sentence): the change goes on there. */
  detach(message, onReread) {
    if (this.finished) return;
    this.finished = true;
    this.waitBox?.remove();
    this.waitBox = null;
    this.waitButton = null;
    this.heading.textContent = this.titles.done;
    this.outcome.dataset.outcome = "stopped_waiting";
    this.label.textContent = "Stopped waiting";
    replace(
      this.outcome,
      h("p", { class: "outcome-title" }, "Stopped waiting"),
      h("p", { class: "outcome-message" }, message),
      onReread ? h("div", { class: "actions" }, h("button", { type: "button", class: "secondary", id: `${this.prefix}-reread`, onclick: onReread }, "Read the status again")) : null,
    );
  }

  /** Hides the panel (a new plan replaces what an earlier one did). */
  hide() {
    this.el.hidden = true;
    this.op = null;
  }

  /** A migration's step or byte count ({event: "step", message} or {event: "bytes", phase, done, total}). */
  migration(p) {
    if (this.finished) return;
    if (p.event === "step") {
      for (const li of this.list.querySelectorAll('li[data-state="started"]')) li.dataset.state = "finished";
      this.list.append(h("li", { dataset: { state: "started" } }, h("span", { class: "stage-state", "aria-hidden": "true" }), h("span", { class: "stage-name" }, capitalize(p.message)), h("span", { class: "stage-ms" })));
      this.label.textContent = `${capitalize(p.message)}…`;
    } else if (p.event === "bytes") {
      const total = Math.max(p.total, p.done, 1);
      const mb = (n) => `${(n / 1e6).toFixed(1)} MB`;
      this.label.textContent = `${capitalize(p.phase)}: ${mb(p.done)} of ${mb(total)}`;
      if (!this.expected.length) {
        // No stages planned (a migration tells its steps as they come): the bar counts bytes.
        this.bar.max = total;
        this.bar.value = p.done;
      }
    }
  }

  /** One compose project's step ({project, phase, sentence}): its own list, in order. */
  project(p) {
    if (this.finished) return;
    if (!this.projects) {
      this.projects = h("ul", { id: `${this.prefix}-projects`, class: "projects-progress", "aria-label": "Compose projects", "aria-live": "polite" });
      this.outcome.before(this.projects);
    }
    let li = [...this.projects.children].find((x) => x.dataset.project === p.project);
    if (!li) {
      li = h("li", { dataset: { project: p.project } }, h("strong", {}, p.project), h("ol", { class: "project-steps" }));
      this.projects.append(li);
    }
    li.dataset.phase = p.phase;
    li.querySelector("ol").append(h("li", { dataset: { phase: p.phase } }, p.sentence));
  }

  item(stage) {
    return h("li", { dataset: { stage, state: "pending" } }, h("span", { class: "stage-state", "aria-hidden": "true" }), h("span", { class: "stage-name" }, stageName(stage)), h("span", { class: "stage-ms" }));
  }

  li(stage) {
    let li = this.list.querySelector(`li[data-stage="${stage}"]:not([data-state="finished"]):not([data-state="failed"])`);
    if (!li) {
      li = this.item(stage);
      this.list.append(li);
    }
    return li;
  }

  /** Applies one progress event ({stage, status, ms, message}). */
  update(p) {
    if (this.finished) return;
    this.el.hidden = false;
    if (p.stage === "rolling_back" && p.status === "started") {
      // The planned stages that did not run are dropped; the rollback's own stages follow.
      for (const pending of this.list.querySelectorAll('li[data-state="pending"]')) pending.remove();
    }
    const li = this.li(p.stage);
    li.dataset.state = p.status;
    this.bar.dataset.stage = p.stage;
    if (p.stage === "rolling_back") this.el.classList.add("rolled-back");
    if (p.status === "started") {
      this.label.textContent = `${stageName(p.stage)}…`;
    } else {
      if (p.ms !== null && p.ms !== undefined) li.querySelector(".stage-ms").textContent = `${(p.ms / 1000).toFixed(1)} s`;
      if (p.status === "failed") {
        this.label.textContent = `${stageName(p.stage)} failed${p.message ? `: ${p.message}` : ""}`;
      }
      const i = this.expected.indexOf(p.stage);
      if (p.status === "finished" && i >= 0) this.bar.value = Math.max(Number(this.bar.value), i + 1);
      if (p.stage === "done" && p.status === "finished") {
        this.bar.value = this.bar.max;
        this.label.textContent = "Done";
      }
    }
  }

  /**
   * Follows the operation events of the backend: an `operation_started` that `mine(ev)` claims
   * becomes the one shown (its planned stages, when it brings a plan), then its progress and
   * outcome. Returns true when the event was about that operation.
   */
  follow(ev, mine) {
    switch (ev.type) {
      case "operation_started":
        if (!mine(ev)) return false;
        this.op = ev.op;
        if (ev.plan) this.start(ev.plan.expected_stages);
        return true;
      case "progress":
        if (ev.op !== this.op) return false;
        this.update(ev.progress);
        this.taken();
        return true;
      case "busy_changed":
        // A change on another host waits for its engine's lock there: it has the change.
        if (this.waitButton && !this.finished && this.op) this.taken();
        return false;
      case "migration_progress":
        if (ev.op !== this.op) return false;
        this.migration(ev.progress);
        return true;
      case "project_progress":
        if (ev.op !== this.op) return false;
        this.project(ev.progress);
        return true;
      case "operation_finished":
        if (ev.op !== this.op) return false;
        this.finish(ev.outcome);
        return true;
      case "operation_detached":
        if (ev.op !== this.op) return false;
        this.detach(ev.message, this.onReread);
        return true;
      default:
        return false;
    }
  }

  /** Shows the outcome ({outcome, message, error, daemon_log, active_store, backup}). */
  finish(o) {
    if (this.finished) return;
    this.finished = true;
    this.waitBox?.remove();
    this.waitBox = null;
    this.waitButton = null;
    this.el.hidden = false;
    this.heading.textContent = this.titles.done;
    this.outcome.dataset.outcome = o.outcome;
    this.el.classList.toggle("rolled-back", o.outcome === "rolled_back");
    this.el.classList.toggle("failed", o.outcome === "failed");
    if (o.outcome === "applied" || o.outcome === "unchanged") {
      this.bar.value = this.bar.max;
      this.label.textContent = "Done";
      // Every step of a change that went through is ticked, the last one too.
      for (const li of this.list.querySelectorAll("li:not([data-state='failed'])")) li.dataset.state = "finished";
    } else {
      this.label.textContent = o.outcome === "rolled_back" ? "Rolled back" : "Failed";
    }
    const title = {
      applied: this.prefix === "restart" ? "Restarted" : "Applied",
      unchanged: "Nothing to change",
      rolled_back: "Rolled back",
      failed: "Failed",
    }[o.outcome] ?? o.outcome;
    replace(
      this.outcome,
      h("p", { class: "outcome-title" }, title),
      h("p", { class: "outcome-message" }, o.message || ""),
      o.error && o.outcome !== "applied" ? h("p", { class: "outcome-error" }, `What went wrong: ${o.error}`) : null,
      o.daemon_log && o.daemon_log.length
        ? h("details", {}, h("summary", {}, "The daemon's last log lines"), h("pre", { class: "detail" }, o.daemon_log.join("\n")))
        : null,
      o.backup && o.outcome === "applied" ? h("p", { class: "muted" }, `The previous daemon.json is saved as ${o.backup}.`) : null,
      o.projects?.length
        ? h("ul", { class: "project-outcomes", id: `${this.prefix}-project-outcomes`, "aria-label": "Compose projects" }, o.projects.map((p) => h("li", { dataset: { project: p.project, phase: p.phase } }, p.sentence)))
        : null,
    );
  }
}
