// The first-run compatibility wizard, one step at a time as the core's state machine gives it:
// detected engines -> checks for both stores -> what a switch would hide or break -> choice ->
// optional migration -> apply (with progress) -> done. Shown on first launch; here later too.
import * as ipc from "../ipc.js";
import { PlanView } from "../plan-view.js";
import { ProgressPanel } from "../progress.js";
import { engineLabel, errorView, h, plural, replace, rich } from "../ui.js";
import { humanBytes } from "./images.js";

const TITLES = {
  detect_engines: "Looking for engines",
  pick_engine: "Which engine?",
  run_checks: "Checking both image stores",
  explain: "What Stowage found",
  choose_store: "Which image store?",
  offer_migration: "Review the switch",
  apply: "Switching",
  done: "Done",
};

function problems(list) {
  return list.filter((c) => c.status === "fail" || c.status === "warn");
}

export default {
  id: "wizard",
  title: "Setup wizard",

  async mount(root, ctx) {
    this.ctx = ctx;
    this.root = root;
    this.progress = new ProgressPanel("wizard", "Switching the image store", "The switch");
    this.box = h("section", { class: "card wizard", id: "wizard", "aria-labelledby": "wizard-title", "aria-busy": "true" });
    replace(root, h("p", { class: "lead" }, "A few questions to set Stowage up: which engine, and which image store suits what you run."), this.box, this.progress.el);
    this.busy(TITLES.detect_engines, "Looking for engines and checking both image stores…");
    await this.call(() => ipc.wizardState(false));
  },

  busy(title, text) {
    this.box.setAttribute("aria-busy", "true");
    replace(this.box, h("h2", { id: "wizard-title", tabindex: "-1" }, title), h("p", { class: "muted" }, text));
  },

  async call(fn) {
    try {
      const view = await fn();
      this.render(view);
    } catch (error) {
      this.box.setAttribute("aria-busy", "false");
      replace(
        this.box,
        h("h2", { id: "wizard-title", tabindex: "-1" }, "The wizard stopped"),
        errorView(error),
        h("div", { class: "actions" }, h("button", { type: "button", class: "primary", id: "wizard-retry", onclick: () => this.call(() => ipc.wizardState(false)) }, "Try again")),
      );
    }
  },

  advance(input, busyText) {
    this.busy(TITLES[this.step?.step] ?? "Working", busyText ?? "Working…");
    return this.call(() => ipc.wizardAdvance(input));
  },

  render(view) {
    this.step = view;
    if (view.engines) this.engines = view.engines;
    this.box.dataset.step = view.step;
    this.box.setAttribute("aria-busy", "false");
    const title = h("h2", { id: "wizard-title", tabindex: "-1" }, TITLES[view.step] ?? view.step);
    const back = view.can_go_back ? h("button", { type: "button", class: "secondary", id: "wizard-back", onclick: () => this.advance({ input: "back" }) }, "Back") : null;
    let body;
    switch (view.step) {
      case "pick_engine":
        body = this.pick(view, back);
        break;
      case "explain":
        body = this.explain(view, back);
        break;
      case "choose_store":
        body = this.choose(view, back);
        break;
      case "offer_migration":
        body = this.offer(view);
        break;
      case "done":
        body = [
          h("p", { id: "wizard-summary" }, view.summary),
          view.reclaim
            ? h("p", { id: "wizard-reclaim-note" }, `The ${view.reclaim} store still holds the images you copied. When you no longer need them there, give its space back.`)
            : null,
          h(
            "div",
            { class: "actions" },
            h("button", { type: "button", class: "primary", id: "wizard-finish", onclick: () => this.ctx.navigate("general") }, "Finish"),
            view.reclaim
              ? h("button", { type: "button", class: "secondary", id: "wizard-reclaim", onclick: () => this.ctx.navigate("images", { reclaim: view.reclaim }) }, `Free the ${view.reclaim} store's space…`)
              : null,
            h("button", { type: "button", class: "secondary", id: "wizard-again", onclick: () => { this.busy(TITLES.detect_engines, "Starting again…"); this.call(() => ipc.wizardState(true)); } }, "Run the wizard again"),
          ),
        ];
        break;
      default:
        body = h("p", { class: "muted" }, "Working…");
    }
    replace(this.box, title, body);
    title.focus();
  },

  pick(view, back) {
    const first = view.engines.find((e) => e.current) ?? view.engines.find((e) => e.running) ?? view.engines[0];
    const list = h(
      "fieldset",
      { class: "choices" },
      h("legend", {}, "Engines found on this machine"),
      view.engines.map((e, i) =>
        h(
          "div",
          { class: "choice" },
          h("input", { type: "radio", name: "wizard-engine", id: `wizard-engine-${i}`, value: e.name, checked: e === first }),
          h("div", {}, h("label", { for: `wizard-engine-${i}` }, engineLabel(e)), h("p", { class: "muted", id: `wizard-engine-${i}-desc` }, `${e.host}${e.current ? " · managed by Stowage now" : ""}${e.running ? "" : " · not running"}`)),
        ),
      ),
    );
    const next = () => {
      const picked = this.box.querySelector("input[name=wizard-engine]:checked");
      if (picked) this.advance({ input: "picked", name: picked.value }, "Checking both image stores…");
    };
    return [list, h("div", { class: "actions" }, back, h("button", { type: "button", class: "primary", id: "wizard-next", onclick: next }, "Next"))];
  },

  explain(view, back) {
    const r = view.report;
    const other = r.active === "classic" ? "containerd" : "classic";
    const now = problems(r.current);
    const then = problems(r.if_switching);
    const list = (items, id, store) =>
      items.length
        ? h("ul", { class: "findings", id }, items.map((c) => h("li", { class: `finding ${c.status}` }, h("span", { class: "tag" }, c.status === "fail" ? "Problem" : "Warning"), " ", h("strong", {}, c.title || c.id), ": ", rich(c.summary))))
        : h("p", { class: "muted", id }, `No check found a problem with the ${store} store on this engine.`);
    return [
      h("p", { id: "wizard-active" }, `${this.engineName(view.engine)} runs the ${r.active} image store.`),
      h("p", { id: "wizard-hidden-now" }, view.hidden_sentences[0]),
      h("p", { id: "wizard-would-hide" }, view.hidden_sentences[1]),
      h("h3", {}, `With the ${r.active} store (now)`),
      list(now, "wizard-problems-now", r.active),
      h("h3", {}, `With the ${other} store (if you switch)`),
      list(then, "wizard-problems-switching", other),
      h("div", { class: "actions" }, back, h("button", { type: "button", class: "primary", id: "wizard-next", onclick: () => this.advance({ input: "continue" }) }, "Continue")),
    ];
  },

  choose(view, back) {
    const hides = view.candidates.length
      ? `Hides ${plural(view.candidates.length, "image")} of the ${view.active} store until you switch back. The next step shows what stops and what can come along.`
      : "The next step shows what stops and what can come along.";
    const options = [
      { value: "", store: view.active, label: `Keep the ${view.active} store`, desc: "Nothing changes." },
      ...["classic", "containerd"].filter((s) => s !== view.active).map((s) => ({ value: s, store: s, label: `Switch to the ${s} store`, desc: hides })),
    ];
    const key = (o) => o.value || "keep";
    const fieldset = h(
      "fieldset",
      { class: "choices" },
      h("legend", {}, "Which image store should this engine run?"),
      h("p", { class: "muted", id: "wizard-why" }, `Recommended: the ${view.recommended} store. ${view.why}`),
      options.map((o) =>
        h(
          "div",
          { class: "choice" },
          // The recommended store is the one chosen unless the user picks the other.
          h("input", { type: "radio", name: "wizard-store", id: `wizard-store-${key(o)}`, value: o.value, checked: o.store === view.recommended, "aria-describedby": `wizard-store-${key(o)}-desc` }),
          h(
            "div",
            {},
            h("label", { for: `wizard-store-${key(o)}` }, o.label, o.store === view.recommended ? h("span", { class: "badge recommended" }, "recommended") : null),
            h("p", { class: "muted", id: `wizard-store-${key(o)}-desc` }, o.desc),
          ),
        ),
      ),
    );
    const next = () => {
      const v = this.box.querySelector("input[name=wizard-store]:checked")?.value ?? "";
      this.advance({ input: "chose", store: v || null }, v ? "Planning the switch…" : "Finishing…");
    };
    return [
      view.blockers.length ? h("div", { class: "warning", id: "wizard-blockers" }, h("p", {}, "What fails with the other store:"), h("ul", {}, view.blockers.map((b) => h("li", {}, rich(b))))) : null,
      fieldset,
      h("div", { class: "actions" }, back, h("button", { type: "button", class: "primary", id: "wizard-next", onclick: next }, "Next")),
    ];
  },

  /** The switch's plan, as the Features page shows it (what stops, what is hidden, compose
   *  projects to bring along), with the images of the store being left to copy first. */
  offer(view) {
    const boxes = view.candidates.map((c, i) =>
      h(
        "div",
        { class: "choice" },
        h("input", { type: "checkbox", id: `wizard-migrate-${i}`, value: c.reference, onchange: () => this.offerCount() }),
        h("label", { for: `wizard-migrate-${i}` }, c.reference, " ", h("span", { class: "muted" }, `(${humanBytes(c.bytes)})`)),
      ),
    );
    const all = h("input", {
      type: "checkbox",
      id: "wizard-migrate-all",
      onchange: () => {
        for (const b of this.box.querySelectorAll("input[id^=wizard-migrate-]:not(#wizard-migrate-all)")) b.checked = all.checked;
        this.offerCount();
      },
    });
    this.offerTotal = h("p", { id: "wizard-migrate-total", class: "muted", "aria-live": "polite" });
    const images = view.candidates.length
      ? h(
          "fieldset",
          { class: "choices", id: "wizard-images" },
          h("legend", {}, `Images of the ${view.from} store to copy to the ${view.to} store first (nothing is deleted either way)`),
          h("div", { class: "choice select-all" }, all, h("label", { for: "wizard-migrate-all" }, "Select all")),
          boxes,
          this.offerTotal,
        )
      : null;
    const plan = new PlanView("wizard-plan");
    plan.busy(`Switch to the ${view.to} store`);
    plan.el.classList.remove("card");
    const run = ({ projects }) => {
      const references = this.pickedImages().map((c) => c.reference);
      this.progress.start([]);
      this.advance({ input: "migrate", references, projects }, "Switching the image store; each step shows below as it happens.");
    };
    ipc.wizardPlan(view.to).then(
      (p) => {
        plan.show(p, { title: `Switch to the ${view.to} store`, extra: images, applyLabel: "Switch", cancelLabel: "Back", onApply: run, onCancel: () => this.advance({ input: "back" }) });
        this.offerCount();
      },
      (error) => plan.failed(`Switch to the ${view.to} store`, errorView(error, "The switch cannot be planned."), () => this.advance({ input: "back" })),
    );
    return plan.el;
  },

  /** The images ticked in the migration offer. */
  pickedImages() {
    const ticked = new Set([...this.box.querySelectorAll("input[id^=wizard-migrate-]:not(#wizard-migrate-all):checked")].map((b) => b.value));
    return (this.step?.candidates ?? []).filter((c) => ticked.has(c.reference));
  },

  /** "2 of 3 images selected (12 MB)", and the select-all box in step with the ticks. */
  offerCount() {
    const picked = this.pickedImages();
    const total = this.step?.candidates?.length ?? 0;
    const bytes = picked.reduce((n, c) => n + c.bytes, 0);
    const all = this.box.querySelector("#wizard-migrate-all");
    if (all) {
      all.checked = picked.length === total && total > 0;
      all.indeterminate = picked.length > 0 && picked.length < total;
    }
    if (this.offerTotal) this.offerTotal.textContent = picked.length ? `${picked.length} of ${plural(total, "image")} selected (${humanBytes(bytes)})` : "No image selected: the switch copies nothing.";
  },

  /** The engine a step names, as a person knows it. */
  engineName(name) {
    const e = this.step?.managed_engine?.name === name ? this.step.managed_engine : this.engines?.find((x) => x.name === name);
    return e ? engineLabel(e) : `The engine ${name}`;
  },

  onEvent(ev) {
    // The switch (with its migration and projects) is one operation of the wizard's.
    this.progress.follow(ev, (e) => e.source === "wizard");
  },
};
