// "Features in development": Beta and Experimental tabs, one checkbox per catalog feature.
// A changed checkbox shows the plan; Apply & Restart runs it with a staged progress bar.
import * as ipc from "../ipc.js";
import { ProgressPanel } from "../progress.js";
import { diffView, docsLink, engineLabel, errorView, h, plural, replace, rich, storeText } from "../ui.js";

const TABS = [
  { id: "beta", title: "Beta features" },
  { id: "experimental", title: "Experimental features" },
];

function stateText(f) {
  const configured = f.enabled ? "On" : "Off";
  const how = f.explicit === null || f.explicit === undefined ? " (default)" : "";
  let running = "";
  if (f.active === true) running = " · running";
  else if (f.active === false) running = " · not running";
  return `${configured}${how}${running}`;
}

export default {
  id: "features",
  title: "Features in development",

  async mount(root, ctx) {
    this.ctx = ctx;
    this.root = root;
    this.tab = this.tab ?? "beta";
    this.features = [];
    this.plan = null;
    this.op = null;
    this.applying = false;
    this.shown = null;
    this.intro = h("p", { class: "lead" }, "Try the engine's features before they are final. Changing one shows what Stowage will do; nothing happens until you apply it.");
    this.listBox = h("div", { id: "features-list", "aria-busy": "true" });
    this.planBox = h("section", { id: "plan", class: "card plan", hidden: true, "aria-labelledby": "plan-title" });
    this.progress = new ProgressPanel("change", "Applying the change");
    replace(root, this.intro, this.listBox, this.planBox, this.progress.el);
    await this.load();
    const confirm = ctx.takeConfirm();
    if (confirm) this.showPlan(confirm, { fromTray: true });
  },

  async load() {
    try {
      const view = await ipc.featuresList();
      const key = JSON.stringify(view);
      if (key === this.shown) return; // nothing changed: keep the DOM (and the focus) as it is
      this.shown = key;
      this.features = view.features;
      this.view = view;
      const focused = document.activeElement?.id;
      this.render(view);
      if (focused) document.getElementById(focused)?.focus();
    } catch (error) {
      replace(this.listBox, errorView(error, "Stowage could not read the features."));
    } finally {
      this.listBox.setAttribute("aria-busy", "false");
    }
  },

  render(view) {
    const tablist = h("div", { role: "tablist", class: "tabs", "aria-label": "Feature stage" });
    const panels = [];
    for (const tab of TABS) {
      const selected = tab.id === this.tab;
      const button = h(
        "button",
        {
          type: "button",
          role: "tab",
          id: `tab-${tab.id}`,
          "aria-selected": selected ? "true" : "false",
          "aria-controls": `panel-${tab.id}`,
          tabindex: selected ? "0" : "-1",
          onclick: () => this.selectTab(tab.id, true),
          onkeydown: (e) => this.tabKey(e),
        },
        tab.title,
      );
      tablist.append(button);
      const items = this.features.filter((f) => f.stage === tab.id);
      panels.push(
        h(
          "div",
          { role: "tabpanel", id: `panel-${tab.id}`, "aria-labelledby": `tab-${tab.id}`, hidden: !selected, class: "feature-list" },
          items.length ? items.map((f) => this.featureRow(f)) : h("p", { class: "muted" }, "No features in this stage."),
        ),
      );
    }
    const reach = view.reachable
      ? h("p", { class: "muted" }, `${engineLabel(view.engine)}: ${storeText(view.active_store)} running.`)
      : h("p", { class: "warning", id: "features-stopped" }, `Engine stopped: ${engineLabel(view.engine)} does not answer, so nothing can be applied until it runs again (start it on the Engine page). States come from daemon.json only.`);
    replace(this.listBox, reach, this.pendingNotice(view), tablist, panels);
    this.syncCheckboxes();
    if (this.plan) {
      // A plan on screen (e.g. from the tray) keeps its boxes ticked and stays in view.
      this.tickPlan(this.plan);
      this.planBox.scrollIntoView({ block: "start" });
    }
  },

  /** daemon.json asks for another store than the one running (a hand edit): Restart to apply. */
  pendingNotice(view) {
    if (!view.reachable || !view.configured_store || !view.active_store || view.configured_store === view.active_store) return null;
    const button = h("button", { type: "button", id: "features-apply-pending", class: "secondary" }, "Restart to apply");
    button.onclick = async () => {
      button.disabled = true;
      this.restarting = true;
      this.progress.start(["stopping", "starting", "waiting_for_api", "verifying_store", "done"]);
      try {
        this.progress.finish(await ipc.engineRestart());
      } catch (error) {
        replace(this.progress.outcome, errorView(error));
      } finally {
        this.restarting = false;
        this.shown = null;
        await this.load();
      }
    };
    return h(
      "div",
      { class: "warning", id: "features-pending", role: "status" },
      h("p", {}, `daemon.json differs from what the engine runs: it asks for the ${view.configured_store} store, the engine runs the ${view.active_store} store. It takes effect when the engine restarts.`),
      button,
    );
  },

  tickPlan(plan) {
    for (const c of plan.changes) {
      const box = this.listBox.querySelector(`#feature-${c.id}`);
      if (box) box.checked = c.enable;
    }
  },

  featureRow(f) {
    const id = `feature-${f.id}`;
    const described = [`${id}-desc`, `${id}-state`, f.reason ? `${id}-reason` : null].filter(Boolean).join(" ");
    const box = h("input", {
      type: "checkbox",
      id,
      dataset: { featureId: f.id },
      "aria-describedby": described,
      disabled: !f.available || this.applying,
      onchange: () => this.changed(),
    });
    box.checked = f.enabled;
    return h(
      "div",
      { class: `feature${f.available ? "" : " unavailable"}`, dataset: { feature: f.id } },
      box,
      h(
        "div",
        { class: "feature-text" },
        h("label", { for: id }, f.title),
        h("p", { id: `${id}-desc`, class: "desc" }, f.description),
        h("p", { id: `${id}-state`, class: "state" }, stateText(f)),
        f.reason ? h("p", { id: `${id}-reason`, class: "reason" }, `Not available: ${f.reason}`) : null,
        (f.notes ?? []).map((n) => h("p", { class: "muted" }, n)),
        f.id === "containerd-image-store" ? this.snapshotterSelector(f) : null,
        f.docs
          ? h("p", { class: "docs" }, docsLink(f.docs, ["Learn more", h("span", { class: "visually-hidden" }, ` about ${f.title}`)], (error) => this.ctx.notice("The documentation could not be opened.", error?.detail ?? error?.message ?? String(error))))
          : null,
      ),
    );
  },

  /** The containerd store's snapshotter: one option per snapshotter containerd offers;
   *  unusable ones are disabled, with the reason listed below. Choosing one plans the switch. */
  snapshotterSelector(f) {
    const a = this.view?.snapshotters;
    if (!a) return null;
    const list = a.snapshotters ?? [];
    const current = this.view.snapshotter ?? "";
    const select = h(
      "select",
      {
        id: "snapshotter-select",
        "aria-describedby": "snapshotter-reasons",
        disabled: !f.available || this.applying || !list.length,
        onchange: () => this.snapshotterChosen(select.value),
      },
      current ? null : h("option", { value: "" }, "Choose…"),
      list.map((s) =>
        h(
          "option",
          { value: s.name, disabled: !s.usable, selected: s.name === current },
          s.usable ? s.name : `${s.name} (not usable)`,
        ),
      ),
    );
    select.value = current;
    const unusable = list.filter((s) => !s.usable);
    return h(
      "div",
      { class: "snapshotter", id: "snapshotter" },
      h("label", { for: "snapshotter-select" }, "Snapshotter"),
      " ",
      select,
      h(
        "details",
        { id: "snapshotter-reasons", class: "muted snapshotter-reasons" },
        h("summary", {}, unusable.length ? `Why ${plural(unusable.length, "snapshotter is", "snapshotters are")} not usable` : "About snapshotters"),
        h(
          "ul",
          {},
          unusable.map((s) => h("li", { dataset: { snapshotter: s.name } }, `${s.name}: ${s.reason}`)),
          a.error ? h("li", {}, `The engine's containerd did not answer: ${a.error}`) : null,
          a.note ? h("li", {}, `${a.note}.`) : null,
        ),
      ),
    );
  },

  async snapshotterChosen(name) {
    if (!name || name === (this.view?.snapshotter ?? "")) {
      this.hidePlan();
      await ipc.featuresDiscard().catch(() => {});
      return;
    }
    this.planBox.hidden = false;
    this.planBox.setAttribute("aria-busy", "true");
    replace(this.planBox, h("h2", { id: "plan-title" }, "Review the change"), h("p", { class: "muted" }, "Planning…"));
    try {
      this.showPlan(await ipc.featuresPlanSnapshotter(name), {});
    } catch (error) {
      replace(this.planBox, h("h2", { id: "plan-title" }, "Review the change"), errorView(error, "This change cannot be made."), this.cancelButton());
    } finally {
      this.planBox.setAttribute("aria-busy", "false");
    }
  },

  selectTab(id, focus) {
    this.tab = id;
    for (const tab of TABS) {
      const button = this.listBox.querySelector(`#tab-${tab.id}`);
      const panel = this.listBox.querySelector(`#panel-${tab.id}`);
      if (!button || !panel) continue;
      const selected = tab.id === id;
      button.setAttribute("aria-selected", selected ? "true" : "false");
      button.tabIndex = selected ? 0 : -1;
      panel.hidden = !selected;
      if (selected && focus) button.focus();
    }
  },

  tabKey(e) {
    const i = TABS.findIndex((t) => t.id === this.tab);
    let next = null;
    if (e.key === "ArrowRight") next = TABS[(i + 1) % TABS.length];
    if (e.key === "ArrowLeft") next = TABS[(i + TABS.length - 1) % TABS.length];
    if (e.key === "Home") next = TABS[0];
    if (e.key === "End") next = TABS[TABS.length - 1];
    if (next) {
      e.preventDefault();
      this.selectTab(next.id, true);
    }
  },

  /** Checkboxes that differ from the features' state. */
  staged() {
    const out = [];
    for (const box of this.listBox.querySelectorAll("input[data-feature-id]")) {
      const f = this.features.find((x) => x.id === box.dataset.featureId);
      if (f && box.checked !== f.enabled) out.push({ id: f.id, enable: box.checked });
    }
    return out;
  },

  syncCheckboxes() {
    const select = this.listBox.querySelector("#snapshotter-select");
    const store = this.features.find((x) => x.id === "containerd-image-store");
    if (select && store) select.disabled = !store.available || this.applying;
    for (const box of this.listBox.querySelectorAll("input[data-feature-id]")) {
      const f = this.features.find((x) => x.id === box.dataset.featureId);
      if (f) box.disabled = !f.available || this.applying;
    }
  },

  async changed() {
    const changes = this.staged();
    if (!changes.length) {
      this.hidePlan();
      await ipc.featuresDiscard().catch(() => {});
      return;
    }
    this.planBox.hidden = false;
    this.planBox.setAttribute("aria-busy", "true");
    replace(this.planBox, h("h2", { id: "plan-title" }, "Review the change"), h("p", { class: "muted" }, "Planning…"));
    try {
      const plan = await ipc.featuresPlan(changes);
      if (JSON.stringify(changes) !== JSON.stringify(this.staged())) return; // a newer click wins
      this.showPlan(plan, {});
    } catch (error) {
      replace(this.planBox, h("h2", { id: "plan-title" }, "Review the change"), errorView(error, "This change cannot be made."), this.cancelButton());
    } finally {
      this.planBox.setAttribute("aria-busy", "false");
    }
  },

  cancelButton() {
    return h("button", { type: "button", id: "plan-cancel", class: "secondary", onclick: () => this.cancel() }, "Cancel");
  },

  async cancel() {
    await ipc.featuresDiscard().catch(() => {});
    const select = this.listBox.querySelector("#snapshotter-select");
    if (select) select.value = this.view?.snapshotter ?? "";
    for (const box of this.listBox.querySelectorAll("input[data-feature-id]")) {
      const f = this.features.find((x) => x.id === box.dataset.featureId);
      if (f) box.checked = f.enabled;
    }
    this.hidePlan();
    this.listBox.querySelector("input[data-feature-id]:not([disabled])")?.focus();
  },

  hidePlan() {
    this.plan = null;
    this.planBox.hidden = true;
    replace(this.planBox);
  },

  showPlan(plan, { fromTray }) {
    this.plan = plan;
    if (fromTray) this.tickPlan(plan); // the tray's request, as ticked checkboxes too
    const findings = plan.findings ?? [];
    const apply = h(
      "button",
      { type: "button", id: "plan-apply", class: "primary", disabled: plan.blocked, onclick: () => this.apply() },
      plan.restart ? "Apply & Restart" : "Apply",
    );
    replace(
      this.planBox,
      h("h2", { id: "plan-title", tabindex: "-1" }, "Review the change"),
      fromTray ? h("p", { class: "warning" }, "You asked for this from the tray. It hides images or containers, so Stowage asks first.") : null,
      h("ul", { class: "summary" }, plan.summary.filter((s) => s !== plan.hidden_note && !(plan.containers_note ?? []).includes(s)).map((s) => h("li", {}, rich(s)))),
      plan.hidden_note ? h("p", { class: "hidden-note", id: "plan-hidden" }, plan.hidden_note) : null,
      this.containersSection(plan),
      findings.length
        ? h(
            "ul",
            { class: "findings", "aria-label": "Findings" },
            findings.map((f) =>
              h("li", { class: `finding ${f.handled_by_plan ? "handled" : f.severity}` }, h("span", { class: "tag" }, f.handled_by_plan ? "handled" : { info: "note", warn: "warning", error: "blocks" }[f.severity] ?? f.severity), " ", rich(f.message)),
            ),
          )
        : null,
      plan.blocked ? h("p", { class: "error-text" }, "This change is blocked by the findings above; nothing will be written.") : null,
      plan.via_pkexec ? h("p", { class: "muted" }, "This needs administrator rights: you will be asked for a password (pkexec runs stowctl for this one change).") : null,
      plan.diff
        ? h("details", { open: true }, h("summary", {}, `Changes to ${plan.config_file}`), diffView(plan.diff))
        : h("p", { class: "muted" }, "daemon.json stays as it is."),
      h("div", { class: "actions" }, apply, this.cancelButton()),
    );
    this.planBox.hidden = false;
    this.planBox.querySelector("#plan-title").focus();
  },

  /** A store switch's Containers section: the compose projects it hides, a checkbox each to
   *  bring them across (disabled with the core's reason when that cannot be done), and the
   *  standalone containers that stay in the old store. */
  containersSection(plan) {
    const hidden = plan.hidden_containers;
    if (!hidden || (!hidden.projects.length && !hidden.standalone.length)) return null;
    const from = plan.current_store;
    const to = plan.target_store;
    const refusal = plan.bring_projects_refusal;
    const projectRow = (p, i) => {
      const id = `project-${i}`;
      const why = plan.project_refusals?.[p.name] ?? null;
      const box = h("input", {
        type: "checkbox",
        id,
        dataset: { project: p.name },
        disabled: !!refusal || !!why || plan.blocked,
        "aria-describedby": [`${id}-facts`, why ? `${id}-reason` : null, refusal ? "plan-projects-refusal" : null].filter(Boolean).join(" "),
      });
      return h(
        "div",
        { class: `feature project${why || refusal ? " unavailable" : ""}`, dataset: { projectRow: p.name } },
        box,
        h(
          "div",
          { class: "feature-text" },
          h("label", { for: id }, `Bring ${p.name} to the ${to} store`),
          h(
            "ul",
            { class: "desc project-facts", id: `${id}-facts` },
            h("li", { class: "project-services" }, `Services: ${p.services.join(", ") || "—"} (${p.running} of ${plural(p.containers.length, "container")} running)`),
            h("li", {}, `Images: ${p.images.join(", ") || "—"}`),
            h("li", {}, `Folder: ${p.working_dir ?? "—"}`),
          ),
          why ? h("p", { id: `${id}-reason`, class: "reason" }, `Cannot be brought across: ${why}`) : null,
        ),
      );
    };
    const standaloneNote = plan.standalone_heading ? `${plan.standalone_heading}:` : null;
    return h(
      "section",
      { id: "plan-containers", class: "containers", "aria-labelledby": "plan-containers-title" },
      h("h3", { id: "plan-containers-title" }, "Containers"),
      hidden.projects.length
        ? h(
            "fieldset",
            { id: "plan-projects" },
            h("legend", {}, `Compose projects in the ${from} store: ticked ones have their images migrated, then come back up on the ${to} store`),
            refusal ? h("p", { class: "warning", id: "plan-projects-refusal" }, refusal) : null,
            hidden.projects.map(projectRow),
          )
        : null,
      hidden.standalone.length
        ? h(
            "div",
            { id: "plan-standalone" },
            standaloneNote ? h("p", { class: "muted" }, standaloneNote) : null,
            h(
              "ul",
              { class: "standalone", "aria-label": "Standalone containers" },
              hidden.standalone.map((c) =>
                h(
                  "li",
                  { dataset: { container: c.name } },
                  h("strong", {}, c.name),
                  ` — from ${c.image}, ${c.state}`,
                  c.ports?.length ? `; ports ${c.ports.join(", ")}` : "",
                  c.volumes?.length ? `; volumes ${c.volumes.join(", ")}` : "",
                ),
              ),
            ),
          )
        : null,
    );
  },

  /** The compose projects ticked in the plan's Containers section. */
  tickedProjects() {
    return [...this.planBox.querySelectorAll("input[data-project]:checked")].map((b) => b.dataset.project);
  },

  async apply() {
    if (!this.plan || this.applying) return;
    const plan = this.plan;
    const projects = this.tickedProjects();
    this.applied = plan;
    this.applying = true;
    this.syncCheckboxes();
    for (const b of this.planBox.querySelectorAll("button, input[data-project]")) b.disabled = true;
    // Bringing projects across runs the migration's own steps, told as they come.
    this.progress.start(projects.length ? [] : plan.expected_stages);
    this.progress.el.scrollIntoView({ block: "nearest" });
    try {
      const outcome = await ipc.featuresApply(plan.id, projects);
      this.done(outcome);
    } catch (error) {
      this.applying = false;
      this.syncCheckboxes();
      replace(this.progress.outcome, errorView(error));
      for (const b of this.planBox.querySelectorAll("button")) b.disabled = false;
    }
  },

  async done(outcome) {
    if (this.progress.finished) return;
    this.progress.finish(outcome);
    this.offerSwitchBack(outcome);
    this.applying = false;
    this.hidePlan();
    await this.load();
    this.progress.outcome.focus();
  },

  /** After an applied switch of store: "Switch back", planned and applied the same way. */
  offerSwitchBack(outcome) {
    const plan = this.applied;
    this.applied = null;
    const from = plan?.current_store;
    if (outcome?.outcome !== "applied" || !from || !plan.target_store || from === plan.target_store) return;
    const button = h("button", { type: "button", id: "switch-back", class: "secondary" }, `Switch back to the ${from} store`);
    button.onclick = () => {
      const box = this.listBox.querySelector("#feature-containerd-image-store");
      if (!box) return;
      box.checked = from === "containerd";
      button.remove();
      this.changed();
    };
    this.progress.outcome.append(h("div", { class: "actions" }, button));
  },

  onEvent(ev) {
    switch (ev.type) {
      case "operation_started":
        if (ev.kind === "restart" && this.restarting) this.op = ev.op;
        if (ev.kind === "change") {
          this.op = ev.op;
          if (!this.applying) {
            // Started elsewhere (the tray): show its progress here too.
            this.applying = true;
            this.syncCheckboxes();
            this.progress.start(ev.plan?.expected_stages ?? []);
          }
        }
        break;
      case "progress":
        if (ev.op === this.op) this.progress.update(ev.progress);
        break;
      case "migration_progress":
        if (ev.op === this.op) this.progress.migration(ev.progress);
        break;
      case "project_progress":
        if (ev.op === this.op) this.progress.project(ev.progress);
        break;
      case "operation_finished":
        if (ev.op === this.op && !this.restarting) this.done(ev.outcome);
        break;
      case "engine_changed":
        if (!this.applying && !this.plan && !this.restarting) this.load();
        break;
      case "confirm_plan":
        this.showPlan(ev.plan, { fromTray: true });
        break;
      default:
    }
  },
};
