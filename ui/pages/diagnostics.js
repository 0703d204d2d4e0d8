// Diagnostics: every known-issue check with its status, summary, evidence (one click away) and
// fixes. A fix that one of the app's pages carries out leads there (Images → Migrate); manual
// fixes show their commands and documentation (opened in the browser); an automatic fix shows a
// preview (its diff) first, then Apply runs it with its progress beside the check. Mute/Unmute,
// Re-run, and "What would break if I switch?" (the checks evaluated for the other store).
import * as ipc from "../ipc.js";
import { PlanView } from "../plan-view.js";
import { ProgressPanel } from "../progress.js";
import { diffView, docsLink, errorView, h, replace, rich } from "../ui.js";

const STATUS_TEXT = { ok: "OK", warn: "Warning", fail: "Problem", skipped: "Not applicable", error: "Could not check" };

function evidenceValue(v) {
  return typeof v === "string" ? v : JSON.stringify(v, null, 2);
}

export default {
  id: "diagnostics",
  title: "Diagnostics",

  async mount(root, ctx) {
    this.ctx = ctx;
    this.ifSwitching = this.ifSwitching ?? false;
    this.applying = false;
    this.fixing = null;
    this.toggle = h("input", {
      type: "checkbox",
      id: "diag-if-switching",
      checked: this.ifSwitching,
      "aria-describedby": "diag-if-switching-desc",
      onchange: () => {
        this.ifSwitching = this.toggle.checked;
        this.run();
      },
    });
    this.rerun = h("button", { type: "button", id: "diag-rerun", class: "secondary", onclick: () => this.run() }, "Re-run checks");
    this.note = h("p", { id: "diag-note", class: "muted", "aria-live": "polite" });
    this.list = h("div", { id: "checks", class: "checks", "aria-busy": "true" });
    this.progress = new ProgressPanel("fix", "Applying the fix", "The fix");
    replace(
      root,
      h("p", { class: "lead" }, "Known issues of your setup, checked for the image store the engine runs, or for the other one before you switch."),
      h(
        "div",
        { class: "toolbar" },
        h(
          "div",
          { class: "choice" },
          this.toggle,
          h("div", {}, h("label", { for: "diag-if-switching" }, "What would break if I switch?"), h("p", { class: "muted", id: "diag-if-switching-desc" }, "Evaluate the checks for the other image store.")),
        ),
        this.rerun,
      ),
      this.note,
      this.list,
      this.progress.el,
    );
    await this.run();
  },

  async run() {
    this.list.setAttribute("aria-busy", "true");
    this.rerun.disabled = true;
    this.toggle.disabled = true;
    this.note.textContent = "Running the checks…";
    try {
      const view = await ipc.diagnosticsRun(this.ifSwitching);
      this.view = view;
      this.note.textContent = view.switching
        ? `Evaluated for the ${view.target} store: what would apply if you switched to it (the engine runs the ${view.active} store).`
        : `Evaluated for the ${view.target} store, the one the engine runs.`;
      // A summary first, then problems first; the checks that passed stay folded.
      const rank = { fail: 0, error: 1, warn: 2, skipped: 4, ok: 5 };
      const key = (c) => (c.muted ? 3 : rank[c.status] ?? 3);
      const sorted = [...view.checks].sort((a, b) => key(a) - key(b));
      // The core's counts, each check once; the fold's heading says the same numbers.
      const t = view.tally;
      const summary = h("p", { id: "diag-summary", class: t.problems || t.could_not_check ? "error-text" : t.warnings ? "warning" : "muted", role: "status" }, view.summary);
      const open = sorted.filter((c) => c.muted || (c.status !== "ok" && c.status !== "skipped"));
      const passed = sorted.filter((c) => !c.muted && (c.status === "ok" || c.status === "skipped"));
      replace(
        this.list,
        summary,
        open.map((c) => this.check(c)),
        passed.length ? h("details", { id: "diag-passed", open: !!this.passedOpen, ontoggle: (e) => { this.passedOpen = e.target.open; } }, h("summary", {}, view.passed_heading), passed.map((c) => this.check(c))) : null,
      );
      this.placeProgress();
    } catch (error) {
      this.note.textContent = "";
      replace(this.list, errorView(error, "The checks could not run."));
    } finally {
      this.list.setAttribute("aria-busy", "false");
      this.rerun.disabled = false;
      this.toggle.disabled = false;
    }
  },

  check(c) {
    const status = c.muted ? "muted" : c.status;
    const tag = c.muted ? "Muted" : STATUS_TEXT[c.status] ?? c.status;
    const evidence = Object.entries(c.evidence ?? {});
    const fixBox = h("div", { class: "fix-preview", id: `fix-preview-${c.id}`, hidden: true });
    return h(
      "article",
      { class: `card check status-${status}`, id: `check-${c.id}`, dataset: { status: c.status, muted: String(c.muted) }, "aria-labelledby": `check-${c.id}-title` },
      h("h2", { id: `check-${c.id}-title` }, h("span", { class: "tag" }, tag), " ", c.title),
      h("p", { class: "summary" }, rich(c.summary)),
      evidence.length
        ? h(
            "details",
            { class: "evidence" },
            h("summary", {}, "Evidence"),
            h("dl", { class: "facts" }, evidence.map(([k, v]) => h("div", { class: "fact" }, h("dt", {}, k), h("dd", {}, h("pre", { class: "detail" }, evidenceValue(v)))))),
          )
        : null,
      c.fixes.length && !c.muted ? h("div", { class: "fixes" }, c.fixes.map((f) => this.fix(c, f, fixBox))) : null,
      fixBox,
      // Only a check that warns, fails or could not check has something to mute.
      c.offers_mute
        ? h(
            "div",
            { class: "actions" },
            h(
              "button",
              { type: "button", class: "link", id: `mute-${c.id}`, onclick: () => this.mute(c.id, !c.muted) },
              c.muted ? `Unmute “${c.title}”` : `Mute “${c.title}”`,
            ),
          )
        : null,
    );
  },

  fix(c, f, fixBox) {
    const docs = f.docs ? h("p", { class: "muted" }, docsLink(f.docs, "Documentation", (error) => this.ctx.notice("The documentation could not be opened.", error?.detail ?? error?.message ?? String(error)))) : null;
    if (f.action?.kind === "migrate") {
      // The app does this itself: lead to it rather than to a command line.
      return h(
        "div",
        { class: "fix" },
        h("p", {}, rich(f.description)),
        h("button", { type: "button", class: "secondary", id: `fix-action-${c.id}`, onclick: () => this.ctx.navigate("images") }, "Open Images → Migrate"),
        docs,
      );
    }
    if (f.automatic) {
      return h(
        "div",
        { class: "fix" },
        h("p", {}, rich(f.description)),
        h("button", { type: "button", class: "secondary", id: `fix-${c.id}`, disabled: this.applying, onclick: () => this.preview(c, fixBox) }, "Fix…"),
      );
    }
    return h(
      "div",
      { class: "fix manual" },
      h("p", {}, rich(f.description)),
      f.commands?.length ? h("pre", { class: "code", tabindex: "0", "aria-label": "Commands to run" }, f.commands.join("\n")) : null,
      docs,
    );
  },

  /** Puts the fix's progress right under the check it fixes (the list is redrawn after a fix). */
  placeProgress() {
    if (!this.fixing) return;
    const card = document.getElementById(`check-${this.fixing}`);
    if (!card) return;
    const folded = card.closest("details");
    if (folded && !folded.open) folded.open = true;
    card.append(this.progress.el);
  },

  async preview(c, box) {
    box.hidden = false;
    replace(box, h("p", { "aria-busy": "true" }, "Preparing the fix…"));
    try {
      const p = await ipc.diagnosticsFixPreview(c.id, this.ifSwitching);
      if (p.unchanged) {
        replace(box, h("p", { id: "fix-unchanged" }, "Nothing to change: this fix is already in place."));
        return;
      }
      // What its restart stops, with the offer to start it again: the plan view's own section.
      const plan = new PlanView("fix-plan");
      const apply = h("button", { type: "button", class: "primary", id: "fix-apply", onclick: () => this.apply(c.id, p.id, p.stages, box, plan.choices(box).startAgain) }, p.via_pkexec ? "Apply (asks for your password)" : "Apply");
      replace(
        box,
        h("h3", {}, "The fix would change"),
        h("ul", { id: "fix-files" }, p.files.map((f) => h("li", {}, h("code", {}, f)))),
        p.notes?.length ? h("div", { id: "fix-notes", class: "warning", role: "note" }, p.notes.map((n) => h("p", {}, rich(n)))) : null,
        diffView(p.diff),
        p.restart ? h("p", { class: "warning" }, `The engine restarts: ${p.restart_description}.`) : h("p", { class: "muted" }, "No restart is needed."),
        plan.containers(p),
        h("div", { class: "actions" }, apply, h("button", { type: "button", class: "secondary", onclick: () => { box.hidden = true; } }, "Cancel")),
      );
      apply.focus();
    } catch (error) {
      replace(box, errorView(error, "This fix cannot be prepared."));
    }
  },

  async apply(checkId, fixId, stages, box, startAgain = true) {
    this.applying = true;
    box.hidden = true;
    this.fixing = checkId;
    this.placeProgress();
    // The core's stages for this fix, in the order they happen (done last).
    this.progress.start(stages?.length ? stages : ["done"]);
    try {
      const o = await ipc.diagnosticsFixApply(fixId, startAgain);
      this.progress.finish(o);
    } catch (error) {
      replace(this.progress.outcome, errorView(error));
      this.progress.outcome.dataset.outcome = "failed";
    } finally {
      this.applying = false;
      await this.run();
      this.progress.el.scrollIntoView({ block: "nearest" });
      this.progress.outcome.focus();
    }
  },

  async mute(id, muted) {
    try {
      await ipc.diagnosticsMute(id, muted);
      await this.run();
      document.getElementById(`mute-${id}`)?.focus();
    } catch (error) {
      this.ctx.notice("The check could not be muted or unmuted.", error?.detail ?? error?.message ?? String(error));
    }
  },

  onEvent(ev) {
    this.progress.follow(ev, (e) => e.kind === "fix");
  },
};
