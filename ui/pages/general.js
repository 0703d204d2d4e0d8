// General: which engine Stowage manages, start at login, the tray icon, the theme.
import * as ipc from "../ipc.js";
import { engineLabel, errorView, h, replace, rich } from "../ui.js";

export default {
  id: "general",
  title: "General",

  async mount(root, ctx) {
    this.ctx = ctx;
    this.engineBox = h("section", { class: "card", "aria-labelledby": "general-engine-title", "aria-busy": "true" }, h("h2", { id: "general-engine-title" }, "Engine"));
    this.prefsBox = h("section", { class: "card", "aria-labelledby": "general-prefs-title" }, h("h2", { id: "general-prefs-title" }, "Application"));
    this.saved = h("p", { class: "muted", role: "status", id: "general-saved" });
    replace(root, this.engineBox, this.prefsBox, this.saved);
    await Promise.all([this.loadEngines(), this.loadPrefs()]);
  },

  async loadEngines() {
    const title = h("h2", { id: "general-engine-title" }, "Engine");
    try {
      const view = await ipc.generalEngines();
      const radios = view.engines.map((e) => {
        const id = `engine-${e.name}`;
        const input = h("input", { type: "radio", name: "engine", id, value: e.name, "aria-describedby": `${id}-desc`, onchange: () => this.select(e.name) });
        input.checked = !view.remote && e.name === view.current;
        return h(
          "div",
          { class: "choice" },
          input,
          h("div", {}, h("label", { for: id }, engineLabel(e)), h("p", { class: "muted", id: `${id}-desc` }, `${e.host} · ${e.origin}${e.running ? "" : " · not running"}`)),
        );
      });
      replace(
        this.engineBox,
        title,
        // Why Stowage runs its own sandbox, and what becomes of it when this window closes.
        view.sandbox_notice ? h("p", { class: "warning", id: "general-sandbox", role: "note" }, rich(view.sandbox_notice)) : null,
        h(
          "fieldset",
          { class: "choices" },
          h("legend", {}, "Which Docker Engine Stowage manages"),
          radios.length ? radios : h("p", { class: "muted" }, "No engine was found."),
          this.contexts(view),
        ),
      );
    } catch (error) {
      replace(this.engineBox, title, errorView(error, "Stowage could not list the engines."));
    } finally {
      this.engineBox.setAttribute("aria-busy", "false");
    }
  },

  /** The docker CLI's contexts: one over ssh is another host's engine, shown through the
   *  stowctl there; one with a local address is an engine of this machine. */
  contexts(view) {
    const list = view.contexts ?? [];
    if (!list.length) return null;
    return h(
      "div",
      { class: "contexts", id: "general-contexts" },
      h("h3", { id: "general-contexts-title" }, "Docker contexts"),
      list.map((c) => {
        const id = `context-${c.name}`;
        const input = h("input", { type: "radio", name: "engine", id, value: c.name, dataset: { context: c.name }, "aria-describedby": `${id}-desc`, onchange: () => this.selectContext(c) });
        input.checked = view.remote?.name === c.name;
        const where = c.transport === "ssh" ? "another host, through its stowctl over ssh" : "an engine of this machine";
        return h(
          "div",
          { class: "choice" },
          input,
          h("div", {}, h("label", { for: id }, c.name), h("p", { class: "muted", id: `${id}-desc` }, `${c.host} · ${where}${c.current ? " · the docker CLI's current context" : ""}${c.description ? ` · ${c.description}` : ""}`)),
        );
      }),
    );
  },

  async selectContext(c) {
    this.saved.textContent = `Switching to ${c.name}…`;
    try {
      const chosen = await ipc.generalSelectContext(c.name);
      this.ctx.setRemote(chosen.remote);
      if (chosen.remote) {
        this.saved.textContent = `Stowage now shows the engine of ${chosen.remote.name} (${chosen.remote.address}).`;
        this.ctx.chipAsking(chosen.remote);
        ipc.engineStatus().then((st) => this.ctx.showStatus(st)).catch((error) => this.ctx.chipAsking(chosen.remote, error));
      } else {
        this.ctx.showStatus(chosen.status);
        this.saved.textContent = `Stowage now manages ${chosen.status ? engineLabel(chosen.status.engine) : c.name}.`;
      }
    } catch (error) {
      replace(this.saved, errorView(error, `Stowage could not switch to ${c.name}.`));
    }
  },

  async select(name) {
    this.saved.textContent = `Switching to ${name}…`;
    try {
      const st = await ipc.generalSelectEngine(name);
      this.ctx.setRemote(null);
      this.saved.textContent = `Stowage now manages ${st?.engine ? engineLabel(st.engine) : name}.`;
    } catch (error) {
      replace(this.saved, errorView(error, `Stowage could not switch to ${name}.`));
    }
  },

  async loadPrefs() {
    const title = h("h2", { id: "general-prefs-title" }, "Application");
    try {
      this.prefs = await ipc.generalPrefs();
      const p = this.prefs;
      const login = h("input", { type: "checkbox", id: "pref-login", onchange: (e) => this.save({ start_at_login: e.target.checked }) });
      login.checked = p.start_at_login;
      const tray = h("input", { type: "checkbox", id: "pref-tray", "aria-describedby": "pref-tray-desc", onchange: (e) => this.save({ tray: e.target.checked }) });
      tray.checked = p.tray;
      const theme = h(
        "select",
        { id: "pref-theme", onchange: (e) => this.save({ theme: e.target.value }) },
        [["system", "Same as the desktop"], ["light", "Light"], ["dark", "Dark"]].map(([v, t]) => {
          const o = h("option", { value: v }, t);
          o.selected = v === p.theme;
          return o;
        }),
      );
      replace(
        this.prefsBox,
        title,
        h("div", { class: "choice" }, login, h("label", { for: "pref-login" }, "Start Stowage when I log in")),
        h("div", { class: "choice" }, tray, h("div", {}, h("label", { for: "pref-tray" }, "Show the tray icon"), h("p", { class: "muted", id: "pref-tray-desc" }, "With the tray icon, closing this window keeps Stowage running in the tray."))),
        p.tray_host === false
          ? h("p", { class: "warning", id: "pref-tray-none" }, "This desktop shows no tray icons, so closing this window quits Stowage. It keeps running in the tray on desktops that have one (with “Show the tray icon” above).")
          : null,
        h("div", { class: "field" }, h("label", { for: "pref-theme" }, "Theme"), theme),
      );
    } catch (error) {
      replace(this.prefsBox, title, errorView(error, "Stowage could not read its settings."));
    }
  },

  async save(change) {
    const next = { ...this.prefs, ...change };
    try {
      this.prefs = await ipc.generalSetPrefs(next);
      this.ctx.applyTheme(this.prefs.theme);
      this.saved.textContent = "Saved.";
    } catch (error) {
      replace(this.saved, errorView(error, "The setting was not saved."));
    }
  },

  onEvent() {},
};
