// The one plan view of everything that restarts the engine (Features, the wizard's switch,
// Images → Migrate, Engine → Restart): the core's sentences, what stops, what is hidden, what
// can come along (with the choice to bring it), the findings and the daemon.json diff, then
// Apply and Cancel. Every page shows a plan with it, so a plan reads the same everywhere.
import { capitalize, diffView, h, plural, replace, rich } from "./ui.js";

/** Finding severity -> the word on its badge. */
const TAGS = { info: "note", warn: "warning", error: "blocks" };

export class PlanView {
  /**
   * @param {string} prefix id prefix: the card is #prefix, its buttons #prefix-apply and
   *   #prefix-cancel, its Containers section #prefix-containers.
   */
  constructor(prefix) {
    this.prefix = prefix;
    this.el = h("section", { id: prefix, class: "card plan", hidden: true, "aria-labelledby": `${prefix}-title` });
    this.plan = null;
  }

  /** "Planning…" under the title while the core plans. */
  busy(title = "Review the change") {
    this.plan = null;
    this.el.hidden = false;
    this.el.setAttribute("aria-busy", "true");
    replace(this.el, this.title(title), h("p", { class: "muted" }, "Planning…"));
  }

  /** The plan could not be made: the error, and a way out. */
  failed(title, errorNode, onCancel) {
    this.plan = null;
    this.el.hidden = false;
    this.el.setAttribute("aria-busy", "false");
    replace(this.el, this.title(title), errorNode, h("div", { class: "actions" }, this.cancelButton(onCancel, "Close")));
  }

  hide() {
    this.plan = null;
    this.el.hidden = true;
    replace(this.el);
  }

  title(text) {
    return h("h2", { id: `${this.prefix}-title`, tabindex: "-1" }, text);
  }

  cancelButton(onCancel, label = "Cancel") {
    return h("button", { type: "button", id: `${this.prefix}-cancel`, class: "secondary", onclick: () => onCancel?.() }, label);
  }

  /**
   * Shows `plan` (a switch plan, a migration plan or a restart plan as the backend sends them).
   * Options: title, lead (a sentence above it), extra (nodes between the containers and the
   * findings, e.g. the wizard's image choices), applyLabel, cancelLabel, onApply, onCancel.
   */
  show(plan, { title = "Review the change", lead = null, extra = null, applyLabel = null, cancelLabel = "Cancel", onApply, onCancel } = {}) {
    this.plan = plan;
    const findings = plan.findings ?? [];
    // Sentences the sections below say with their lists are not said twice.
    const stopsListed = (plan.stopping?.containers ?? []).length > 0;
    const set = new Set([plan.hidden_note, stopsListed ? plan.stopping_note : null, ...(plan.containers_note ?? [])].filter(Boolean));
    const label = applyLabel ?? (plan.restart === false ? "Apply" : "Apply & Restart");
    const apply = h(
      "button",
      { type: "button", id: `${this.prefix}-apply`, class: "primary", disabled: !!plan.blocked, onclick: () => onApply?.(this.choices()) },
      plan.via_pkexec ? `${label} (asks for your password)` : label,
    );
    replace(
      this.el,
      this.title(title),
      lead ? h("p", { class: "warning" }, lead) : null,
      h("ul", { class: "summary", id: `${this.prefix}-summary` }, (plan.summary ?? []).filter((s) => !set.has(s)).map((s) => h("li", {}, rich(s)))),
      plan.hidden_note ? h("p", { class: "hidden-note", id: `${this.prefix}-hidden` }, plan.hidden_note) : null,
      this.containers(plan),
      extra,
      plan.steps?.length
        ? h("details", { id: `${this.prefix}-steps` }, h("summary", {}, "What the engine goes through"), h("ol", {}, plan.steps.map((s) => h("li", {}, rich(capitalize(s))))))
        : null,
      plan.notes?.length ? h("ul", { class: "notes" }, plan.notes.map((n) => h("li", {}, rich(n)))) : null,
      findings.length
        ? h(
            "ul",
            { class: "findings", "aria-label": "Findings" },
            findings.map((f) =>
              h("li", { class: `finding ${f.handled_by_plan ? "handled" : f.severity}` }, h("span", { class: "tag" }, f.handled_by_plan ? "handled" : TAGS[f.severity] ?? f.severity), " ", rich(f.message)),
            ),
          )
        : null,
      plan.blocked ? h("p", { class: "error-text" }, "This change is blocked by the findings above; nothing will be written.") : null,
      plan.via_pkexec ? h("p", { class: "muted" }, "This needs administrator rights: you will be asked for a password (pkexec runs stowctl for this one change).") : null,
      plan.diff !== undefined
        ? plan.diff
          ? h("details", { open: true }, h("summary", {}, `Changes to ${plan.config_file}`), diffView(plan.diff))
          : h("p", { class: "muted" }, "daemon.json stays as it is.")
        : null,
      h("div", { class: "actions" }, apply, this.cancelButton(onCancel, cancelLabel)),
    );
    this.el.hidden = false;
    this.el.setAttribute("aria-busy", "false");
    this.el.querySelector(`#${this.prefix}-title`).focus();
  }

  /** What the user chose (in `root`, the card by default): the compose projects ticked, whether
   *  to start containers again. */
  choices(root = this.el) {
    const again = root.querySelector(`#${this.prefix}-start-again`);
    return {
      projects: [...root.querySelectorAll("input[data-project]:checked")].map((b) => b.dataset.project),
      startAgain: again ? again.checked : true,
    };
  }

  /** Locks the plan's buttons and choices while it is applied. */
  lock(locked = true) {
    for (const b of this.el.querySelectorAll("button, input")) b.disabled = locked;
  }

  /**
   * The Containers section: the running containers the restart stops (each with whether the
   * engine starts it again itself), the choice to start them again when the engine comes back
   * on their store, and for a store switch the compose projects it hides, a checkbox each to
   * bring them across (disabled with the core's reason when that cannot be done), and the
   * standalone containers that stay in the old store.
   */
  containers(plan) {
    const stopping = plan.stopping?.containers ?? [];
    const hidden = plan.hidden_containers ?? { projects: [], standalone: [] };
    if (!stopping.length && !hidden.projects.length && !hidden.standalone.length) return null;
    const p = this.prefix;
    return h(
      "section",
      { id: `${p}-containers`, class: "containers", "aria-labelledby": `${p}-containers-title` },
      h("h3", { id: `${p}-containers-title` }, "Containers"),
      stopping.length
        ? h(
            "div",
            { id: `${p}-stopping` },
            h("p", { id: `${p}-stopping-heading` }, plan.stopping_heading),
            h(
              "ul",
              { class: "standalone", "aria-label": "Containers that stop" },
              stopping.map((c) =>
                h(
                  "li",
                  { dataset: { container: c.name } },
                  h("strong", {}, c.name),
                  ` — from ${c.image}${c.project ? `, compose project ${c.project}` : ""}`,
                  c.engine_restarts_it ? "; the engine starts it again itself (restart policy)" : "",
                ),
              ),
            ),
          )
        : null,
      plan.start_again_offer
        ? h(
            "div",
            { class: "choice" },
            h("input", { type: "checkbox", id: `${p}-start-again`, checked: true }),
            h("label", { for: `${p}-start-again` }, plan.start_again_offer),
          )
        : null,
      hidden.projects.length ? this.projects(plan, hidden.projects) : null,
      hidden.standalone.length
        ? h(
            "div",
            { id: `${p}-standalone` },
            plan.standalone_heading ? h("p", { class: "muted" }, `${plan.standalone_heading}:`) : null,
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
  }

  projects(plan, projects) {
    const p = this.prefix;
    const refusal = plan.bring_projects_refusal;
    const row = (project, i) => {
      const id = `${p}-project-${i}`;
      const why = plan.project_refusals?.[project.name] ?? null;
      const box = h("input", {
        type: "checkbox",
        id,
        dataset: { project: project.name },
        disabled: !!refusal || !!why || !!plan.blocked,
        "aria-describedby": [`${id}-facts`, why ? `${id}-reason` : null, refusal ? `${p}-projects-refusal` : null].filter(Boolean).join(" "),
      });
      return h(
        "div",
        { class: `feature project${why || refusal ? " unavailable" : ""}`, dataset: { projectRow: project.name } },
        box,
        h(
          "div",
          { class: "feature-text" },
          h("label", { for: id }, `Bring ${project.name} to the ${plan.target_store} store`),
          h(
            "ul",
            { class: "desc project-facts", id: `${id}-facts` },
            h("li", { class: "project-services" }, `Services: ${project.services.join(", ") || "—"} (${project.running} of ${plural(project.containers.length, "container")} running)`),
            h("li", {}, `Images: ${project.images.join(", ") || "—"}`),
            h("li", { class: "path" }, `Folder: ${project.working_dir ?? "—"}`),
          ),
          why ? h("p", { id: `${id}-reason`, class: "reason" }, `Cannot be brought across: ${why}`) : null,
        ),
      );
    };
    return h(
      "fieldset",
      { id: `${p}-projects` },
      h("legend", {}, `Compose projects in the ${plan.current_store} store: ticked ones have their images migrated, then come back up on the ${plan.target_store} store`),
      refusal ? h("p", { class: "warning", id: `${p}-projects-refusal` }, refusal) : null,
      projects.map(row),
    );
  }
}
