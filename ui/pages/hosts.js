// Hosts: every docker context that reaches an engine over ssh, one row each as the host's own
// stowctl reports it, and the same store switch as a host's Features page on all of them: every
// host's plan first, then one host alone (the canary), then the others in waves. Each host's
// stowctl switches it, verifies it, or rolls it back; the window can start no more hosts but
// never stops one half-way.
import * as ipc from "../ipc.js";
import { callErrorView, diffView, h, plural, replace, stageName } from "../ui.js";

/** How a host's part ended, in words (the core's HostOutcome names). */
const OUTCOME = {
  applied: "applied",
  already_there: "already there",
  not_started: "not started",
  blocked: "blocked",
  unreachable: "unreachable",
  rolled_back: "rolled back",
  failed: "failed",
  engine_down: "FAILED, ENGINE DOWN",
};

const or = (v) => (v === null || v === undefined ? "—" : String(v));

export default {
  id: "hosts",
  title: "Hosts",

  async mount(root, ctx) {
    this.ctx = ctx;
    this.op = null;
    this.tableBox = h("section", { class: "card", id: "hosts", "aria-labelledby": "hosts-title", "aria-busy": "true" }, h("h2", { id: "hosts-title" }, "Hosts"));
    this.fleetBox = h("section", { class: "card", id: "fleet", "aria-labelledby": "fleet-title" });
    replace(
      root,
      h("p", { class: "lead" }, "Every docker context that reaches an engine over ssh, as the stowctl on each host reports it."),
      this.tableBox,
      this.fleetBox,
    );
    this.fleetForm();
    await this.load();
  },

  /** "Asking …" with Cancel (every read of the hosts can be cancelled: their ssh stop). */
  busy(text, id = "hosts-busy") {
    return h(
      "div",
      { class: "remote-busy", id, role: "status" },
      h("span", {}, text),
      h("button", { type: "button", class: "secondary", id: `${id}-cancel`, onclick: () => ipc.remoteCancel().catch(() => {}) }, "Cancel"),
    );
  },

  async load() {
    const title = h("h2", { id: "hosts-title" }, "Hosts");
    this.tableBox.setAttribute("aria-busy", "true");
    replace(this.tableBox, title, this.busy("Asking every host over ssh…"));
    try {
      const view = await ipc.hostsStatus();
      this.rows = view.hosts;
      replace(
        this.tableBox,
        title,
        this.table(view),
        view.hosts.filter((r) => r.error).map((r) => h("p", { class: "muted host-error", dataset: { host: r.host } }, `${r.host}: ${r.error.message}`)),
        h("div", { class: "actions" }, h("button", { type: "button", class: "secondary", id: "hosts-reload", onclick: () => this.load() }, "Read again")),
      );
    } catch (error) {
      replace(this.tableBox, title, callErrorView(error, "Stowage could not list the hosts.", () => this.load()));
    } finally {
      this.tableBox.setAttribute("aria-busy", "false");
    }
  },

  table(view) {
    const head = ["Host", "Engine", "Image store", "Images", "Containers", "Needs attention"];
    return h(
      "div",
      // Scrolls sideways on a narrow window: reachable by keyboard, named for screen readers.
      { class: "table-scroll", tabindex: "0", role: "region", "aria-label": "Hosts" },
      h(
        "table",
        { id: "hosts-table", class: "hosts-table" },
        h("caption", { class: "visually-hidden" }, "Hosts and the image store each runs"),
        h("thead", {}, h("tr", {}, head.map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, view.hosts.map((r) => this.row(r, view.shown))),
      ),
    );
  },

  row(r, shown) {
    const f = r.facts;
    const ro = r.read_only;
    let cells;
    let why = null;
    if (f) {
      const driver = f.snapshotter ?? f.graphdriver;
      if (!f.reachable) why = "its engine does not answer";
      cells = [
        f.engine_version ? `Docker ${f.engine_version}` : "—",
        f.active_store ? `${f.active_store}${driver ? ` (${driver})` : ""}` : "—",
        `${or(f.images?.classic)} classic, ${or(f.images?.containerd)} containerd`,
        f.containers === null || f.containers === undefined ? "—" : `${f.containers} (${f.containers_running ?? 0} running)`,
        f.checks_needing_action?.length ? f.checks_needing_action.join(", ") : "nothing",
      ];
    } else if (ro) {
      why = "read-only: Stowage is not installed there";
      cells = [ro.engine_version ? `Docker ${ro.engine_version}` : "—", `${ro.active_store}${ro.driver ? ` (${ro.driver})` : ""}`, `${or(ro.images)} in its active store`, or(ro.containers), "install Stowage there"];
    } else {
      why = `does not answer (${r.error?.code?.replaceAll("_", " ") ?? "unknown"})`;
      cells = ["—", "—", "—", "—", "—"];
    }
    const store = f?.active_store ?? ro?.active_store ?? "";
    return h(
      "tr",
      { dataset: { host: r.host, store, reachable: String(r.reachable && !!f?.reachable) } },
      h(
        "th",
        { scope: "row" },
        h("span", { class: "host-name" }, r.host),
        shown === r.host ? h("span", { class: "badge active" }, "shown") : null,
        h("span", { class: "muted host-address" }, r.address),
        why ? h("span", { class: "host-why" }, why) : null,
      ),
      cells.map((c, i) => h("td", { dataset: { col: String(i + 1) } }, c)),
    );
  },

  /** The switch of every host: the store, then "Plan the switch". */
  fleetForm() {
    const radio = (store, label) => {
      const id = `fleet-store-${store}`;
      const input = h("input", { type: "radio", name: "fleet-store", id, value: store });
      input.checked = store === "containerd";
      return h("div", { class: "choice" }, input, h("label", { for: id }, label));
    };
    this.planButton = h("button", { type: "button", class: "primary", id: "fleet-plan", onclick: () => this.plan() }, "Plan the switch");
    this.planBox = h("div", { id: "fleet-plans", hidden: true });
    this.runBox = h("div", { id: "fleet-run", hidden: true });
    replace(
      this.fleetBox,
      h("h2", { id: "fleet-title" }, "Switch every host"),
      h(
        "fieldset",
        { class: "choices" },
        h("legend", {}, "Image store for every host"),
        radio("containerd", "The containerd image store"),
        radio("classic", "The classic image store"),
      ),
      h("p", { class: "muted", id: "fleet-how" }, "Every host's plan comes first, and nothing changes until you switch. Then one host switches alone, the others after it, a few at a time; no new host starts once one fails. Each host's stowctl verifies its switch or rolls it back."),
      h("div", { class: "actions" }, this.planButton),
      this.planBox,
      this.runBox,
    );
  },

  store() {
    return this.fleetBox.querySelector("input[name=fleet-store]:checked")?.value ?? "containerd";
  },

  async plan() {
    this.runBox.hidden = true;
    this.planBox.hidden = false;
    this.planButton.disabled = true;
    replace(this.planBox, h("h3", { id: "fleet-plans-title", tabindex: "-1" }, "Every host's plan"), this.busy("Asking every host for its plan over ssh…", "fleet-busy"));
    try {
      this.showPlans(await ipc.hostsPlan(this.store()));
    } catch (error) {
      replace(this.planBox, h("h3", { id: "fleet-plans-title" }, "Every host's plan"), callErrorView(error, "The hosts could not be planned.", () => this.plan()));
    } finally {
      this.planButton.disabled = false;
    }
  },

  showPlans(p) {
    this.fleetPlan = p;
    const what = (plan) => {
      switch (plan.state) {
        case "change":
          return [plan.restart ? "changes daemon.json and restarts the engine" : "changes daemon.json", plan.stopping ? ` ${plan.stopping}` : ""].join("");
        case "already_there":
          return "already runs it";
        case "blocked":
          return `blocked: ${plan.reasons.join(" ")}`;
        case "unreachable":
          return `unreachable: ${plan.message}`;
        default:
          return plan.state;
      }
    };
    const rows = p.plans.map((x) =>
      h("tr", { dataset: { host: x.host.name, plan: x.plan.state } }, h("th", { scope: "row" }, x.host.name), h("td", {}, what(x.plan))),
    );
    const diffs = p.plans
      .filter((x) => x.plan.state === "change" && x.plan.diff)
      .map((x) => h("details", {}, h("summary", {}, `${x.host.name}: changes to daemon.json`), diffView(x.plan.diff)));
    const go = h(
      "button",
      { type: "button", class: "primary", id: "fleet-switch", disabled: p.changing === 0, onclick: () => this.run() },
      p.changing ? `Switch ${plural(p.changing, "host")} to the ${p.store} store` : "Nothing to switch",
    );
    replace(
      this.planBox,
      h("h3", { id: "fleet-plans-title", tabindex: "-1" }, `Every host's plan for the ${p.store} store`),
      h(
        "table",
        { id: "fleet-plan-table", class: "hosts-table" },
        h("caption", { class: "visually-hidden" }, "What the switch does on each host"),
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Host"), h("th", { scope: "col" }, "Plan"))),
        h("tbody", {}, rows),
      ),
      diffs,
      h("p", { class: "muted" }, `${plural(p.canary, "host")} first, then up to ${p.parallel} at a time; no new host after ${plural(p.max_failures + 1, "failure")}.`),
      h("div", { class: "actions" }, go, h("button", { type: "button", class: "secondary", id: "fleet-cancel", onclick: () => { this.planBox.hidden = true; } }, "Cancel")),
    );
    this.planBox.querySelector("#fleet-plans-title").focus();
  },

  async run() {
    const p = this.fleetPlan;
    if (!p) return;
    this.planBox.hidden = true;
    this.planButton.disabled = true;
    this.hostsProgress = new Map();
    this.list = h("ul", { id: "fleet-hosts", class: "fleet-hosts", "aria-live": "polite" });
    for (const x of p.plans) {
      const li = h("li", { dataset: { host: x.host.name, state: x.plan.state === "change" ? "waiting" : "skipped" } }, h("strong", {}, x.host.name), " ", h("span", { class: "fleet-host-state" }, x.plan.state === "change" ? "waiting" : "not switched (see its plan)"));
      this.hostsProgress.set(x.host.name, li);
      this.list.append(li);
    }
    this.stopButton = h("button", { type: "button", class: "secondary", id: "fleet-stop", onclick: () => { this.stopButton.disabled = true; ipc.hostsStop().catch(() => {}); } }, "Start no more hosts");
    this.stopping = h("p", { id: "fleet-stopping", class: "warning", hidden: true });
    this.results = h("div", { id: "fleet-results", tabindex: "-1", "aria-live": "polite" });
    this.runBox.hidden = false;
    replace(
      this.runBox,
      h("h3", { id: "fleet-run-title" }, `Switching to the ${p.store} store`),
      this.list,
      h("p", { class: "muted" }, "A host that has started is not stopped half-way: its stowctl finishes or rolls back."),
      h("div", { class: "actions" }, this.stopButton),
      this.stopping,
      this.results,
    );
    try {
      this.finished(await ipc.hostsSwitch(p.id));
    } catch (error) {
      this.stopButton.disabled = true;
      replace(this.results, callErrorView(error, "The switch could not run."));
    } finally {
      this.planButton.disabled = false;
    }
  },

  progress(ev) {
    const li = (name) => this.hostsProgress?.get(name);
    const set = (name, state, text) => {
      const x = li(name);
      if (!x) return;
      x.dataset.state = state;
      x.querySelector(".fleet-host-state").textContent = text;
    };
    switch (ev.event) {
      case "wave":
        for (const name of ev.hosts) set(name, "running", ev.wave === 0 ? "switching first (the canary)…" : `switching (wave ${ev.wave})…`);
        break;
      case "host":
        if (ev.progress?.stage) set(ev.host, "running", `${stageName(ev.progress.stage)}${ev.progress.status === "started" ? "…" : ` ${ev.progress.status}`}`);
        break;
      case "ended":
        set(ev.result.host, ev.result.outcome, `${OUTCOME[ev.result.outcome] ?? ev.result.outcome}${ev.result.message ? `: ${ev.result.message}` : ""}`);
        break;
      case "stopping":
        this.stopping.hidden = false;
        this.stopping.textContent = `No more hosts start: ${ev.reason}.`;
        break;
      default:
    }
  },

  finished(view) {
    if (!this.results || this.results.dataset.done) return;
    this.results.dataset.done = "true";
    this.stopButton.disabled = true;
    const rows = view.results.map((r) =>
      h(
        "tr",
        { dataset: { host: r.host, outcome: r.outcome } },
        h("th", { scope: "row" }, r.host),
        h("td", {}, OUTCOME[r.outcome] ?? r.outcome),
        h("td", {}, or(r.active_store)),
        h("td", {}, r.wave === null || r.wave === undefined ? "—" : r.wave === 0 ? "canary" : String(r.wave)),
        h("td", {}, r.ms === null || r.ms === undefined ? "—" : `${(r.ms / 1000).toFixed(1)} s`),
        h("td", {}, r.message ?? ""),
      ),
    );
    const ok = view.results.every((r) => r.outcome === "applied" || r.outcome === "already_there");
    replace(
      this.results,
      h("p", { class: "outcome-title", id: "fleet-outcome" }, ok ? "Every host runs as asked." : "Not every host runs as asked."),
      view.stopped_because ? h("p", { class: "warning" }, `Stopped: ${view.stopped_because}.`) : null,
      h(
        "table",
        { id: "fleet-results-table", class: "hosts-table" },
        h("caption", { class: "visually-hidden" }, "How the switch ended on each host"),
        h("thead", {}, h("tr", {}, ["Host", "Outcome", "Store", "Wave", "Time", "Why"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, rows),
      ),
    );
    this.results.focus();
    this.load();
  },

  onEvent(ev) {
    switch (ev.type) {
      case "operation_started":
        if (ev.kind === "fleet") this.op = ev.op;
        break;
      case "fleet_progress":
        if (ev.op === this.op) this.progress(ev.progress);
        break;
      case "fleet_finished":
        if (ev.op === this.op) this.finished(ev.run);
        break;
      case "operation_detached":
        if (ev.op === this.op && this.results) replace(this.results, h("p", { class: "warning" }, ev.message));
        break;
      default:
    }
  },
};
