// "Features in development": Beta and Experimental tabs, one checkbox per catalog feature.
// A changed checkbox shows the plan; Apply & Restart runs it with a staged progress bar.
import * as ipc from "../ipc.js";
import { PlanView } from "../plan-view.js";
import { ProgressPanel } from "../progress.js";
import { callErrorView, docsLink, engineLabel, errorView, h, plural, remoteBusy, replace, rich, storeText } from "../ui.js";

const TABS = [
  { id: "beta", title: "Beta features" },
  { id: "experimental", title: "Experimental features" },
];

export default {
  id: "features",
  title: "Features in development",

  async mount(root, ctx) {
    this.ctx = ctx;
    this.root = root;
    this.tab = this.tab ?? "beta";
    this.features = [];
    this.plan = null;
    this.applying = false;
    this.shown = null;
    this.intro = h("p", { class: "lead" }, "Try the engine's features before they are final. Changing one shows what Stowage will do; nothing happens until you apply it.");
    this.listBox = h("div", { id: "features-list", "aria-busy": "true" });
    this.planView = new PlanView("plan");
    this.planBox = this.planView.el;
    this.progress = new ProgressPanel("change", "Applying the change", "The change");
    replace(root, this.intro, this.listBox, this.planBox, this.progress.el);
    await this.load();
    const confirm = ctx.takeConfirm();
    if (confirm) this.showPlan(confirm, { fromTray: true });
  },

  async load() {
    const remote = this.ctx.remote;
    if (remote && !this.shown) replace(this.listBox, remoteBusy(remote, "its features", "features-busy"));
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
      this.shown = null;
      replace(this.listBox, callErrorView(error, "Stowage could not read the features.", remote ? () => this.load() : null));
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
      ? h("p", { class: "muted", id: "features-engine" }, `${engineLabel(view.engine, view.remote)}: ${storeText(view.active_store)} running.`)
      : h("p", { class: "warning", id: "features-stopped" }, `Engine stopped: ${engineLabel(view.engine, view.remote)} does not answer, so nothing can be applied until it runs again${view.remote ? "" : " (start it on the Engine page)"}. States come from daemon.json only.`);
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
    // Another host's engine restarts with a change applied to it (its Engine page says more).
    if (view.remote) return null;
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
        h("p", { id: `${id}-desc`, class: "desc" }, rich(f.description)),
        h("p", { id: `${id}-state`, class: "state" }, f.state_text),
        f.reason ? h("p", { id: `${id}-reason`, class: "reason" }, "Not available: ", rich(f.reason)) : null,
        (f.notes ?? []).map((n) => h("p", { class: "muted" }, rich(n))),
        f.id === "containerd-image-store" && !this.view?.remote ? this.snapshotterSelector(f) : null,
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
    this.planning();
    try {
      this.showPlan(await ipc.featuresPlanSnapshotter(name), {});
    } catch (error) {
      this.planView.failed("Review the change", errorView(error, "This change cannot be made."), () => this.cancel());
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
    this.planning();
    try {
      const plan = await ipc.featuresPlan(changes);
      if (JSON.stringify(changes) !== JSON.stringify(this.staged())) return; // a newer click wins
      this.showPlan(plan, {});
    } catch (error) {
      this.planView.failed("Review the change", callErrorView(error, "This change cannot be made."), () => this.cancel());
    }
  },

  /** A new plan is on its way: what an earlier change did leaves the screen. */
  planning() {
    if (!this.applying) this.progress.hide();
    this.planView.busy("Review the change");
    // Another host plans it with its own stowctl, over ssh: that can be cancelled.
    if (this.ctx.remote) this.planView.el.append(remoteBusy(this.ctx.remote, "its plan", "plan-busy"));
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
    this.planView.hide();
  },

  showPlan(plan, { fromTray }) {
    this.plan = plan;
    if (fromTray) this.tickPlan(plan); // the tray's request, as ticked checkboxes too
    if (!this.applying) this.progress.hide();
    this.planView.show(plan, {
      lead: fromTray ? "You asked for this from the tray. It hides images or containers, so Stowage asks first." : null,
      applyLabel: plan.restart ? "Apply & Restart" : "Apply",
      onApply: (choices) => this.apply(choices),
      onCancel: () => this.cancel(),
    });
  },

  async apply({ projects, startAgain }) {
    if (!this.plan || this.applying) return;
    const plan = this.plan;
    this.applied = plan;
    this.applying = true;
    this.syncCheckboxes();
    this.planView.lock();
    // Bringing projects across runs the migration's own steps, told as they come.
    this.progress.start(projects.length ? [] : plan.expected_stages);
    const remote = this.ctx.remote;
    if (remote) {
      this.progress.remote(remote);
      this.progress.onReread = () => this.reread();
    }
    this.progress.el.scrollIntoView({ block: "nearest" });
    try {
      const outcome = await ipc.featuresApply(plan.id, projects, startAgain);
      this.done(outcome);
    } catch (error) {
      this.applying = false;
      this.syncCheckboxes();
      if (error?.code === "stopped_waiting") {
        // The change goes on there; the window no longer follows it.
        this.progress.detach(error.message, () => this.reread());
        this.hidePlan();
        return;
      }
      replace(this.progress.outcome, errorView(error));
      this.planView.lock(false);
    }
  },

  /** After the window stopped waiting for a change on another host: its features again. */
  async reread() {
    this.shown = null;
    // The engine chip too: how the change ended there shows in its store.
    ipc.engineStatus().then((st) => this.ctx.showStatus(st)).catch(() => {});
    await this.load();
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
    if (ev.type === "operation_started" && ev.kind === "change" && ev.source !== "wizard" && !this.applying) {
      // Started elsewhere (the tray): show its progress here too.
      this.applying = true;
      this.syncCheckboxes();
      this.progress.start(ev.plan?.expected_stages ?? []);
    }
    const mine = (e) => (e.kind === "restart" && this.restarting) || (e.kind === "change" && e.source !== "wizard");
    if (ev.type === "operation_started" && mine(ev)) {
      // The page started it (its stages are on screen already) or the tray did (just above).
      this.progress.op = ev.op;
      return;
    }
    if (ev.type === "operation_finished" && ev.op === this.progress.op) {
      if (!this.restarting) this.done(ev.outcome);
      return;
    }
    if (this.progress.follow(ev, () => false)) return;
    switch (ev.type) {
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
