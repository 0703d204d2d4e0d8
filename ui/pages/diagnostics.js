// Diagnostics: coming soon (the known-issue checks are being added to the core).
import { h, replace } from "../ui.js";

export default {
  id: "diagnostics",
  title: "Diagnostics",
  mount(root, ctx) {
    replace(
      root,
      h(
        "section",
        { class: "card soon-card", "aria-labelledby": "diagnostics-soon-title", id: "diagnostics-soon" },
        h("h2", { id: "diagnostics-soon-title" }, "Coming soon"),
        h("p", {}, "This page will run every known-issue check for both image stores (buildx version, registry mirrors, Kubernetes, reference filters and more) with its evidence, a Fix you can preview before applying, Mute, and Re-run."),
        h("p", { class: "muted" }, "Meanwhile the plan shown before every change already lists what Stowage noticed about your configuration."),
        h("button", { type: "button", class: "secondary", onclick: () => ctx.navigate("about") }, "Export a diagnostics bundle"),
      ),
    );
  },
  onEvent() {},
};
