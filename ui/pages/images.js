// Images: the classic and the containerd image store side by side. The store the engine runs is
// marked active; the other one is hidden, not lost. Search, platforms per image, a disk-usage bar
// per store (on the filesystem it writes to, with what its bytes are), Migrate for selected
// images (the plan first, then its steps with progress), and "Free …" on the hidden store: the
// reclaim plan, a typed confirmation (the store's name), then its steps.
import * as ipc from "../ipc.js";
import { PlanView } from "../plan-view.js";
import { ProgressPanel } from "../progress.js";
import { callErrorView, capitalize, errorView, h, plural, remoteBusy, replace, rich } from "../ui.js";

const STORES = ["classic", "containerd"];

/** Decimal units, as `docker images` prints sizes. */
export function humanBytes(n) {
  if (n === null || n === undefined) return "unknown";
  const units = ["B", "kB", "MB", "GB", "TB"];
  let v = Number(n);
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i += 1;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(v < 10 ? 2 : 1).replace(/\.?0+$/, "")} ${units[i]}`;
}

/** An error from a command as one line. */
function errorText(error) {
  return error?.message ?? String(error);
}

function imageName(img) {
  const tags = img.references.filter((r) => !r.includes("@"));
  return tags.length ? tags.join(", ") : `<none> (${img.id.replace(/^sha256:/, "").slice(0, 12)})`;
}

export default {
  id: "images",
  title: "Images",

  async mount(root, ctx) {
    this.ctx = ctx;
    this.running = false;
    this.query = this.query ?? "";
    this.search = h("input", {
      type: "search",
      id: "images-search",
      value: this.query,
      placeholder: "Name, tag or platform",
      oninput: () => {
        this.query = this.search.value;
        this.filter();
      },
    });
    this.count = h("span", { id: "images-count", class: "muted", "aria-live": "polite" });
    this.storesBox = h("div", { id: "stores", class: "stores", "aria-busy": "true" });
    this.migrateButton = h("button", { type: "button", id: "images-migrate", class: "primary", disabled: true, onclick: () => this.plan() }, "Migrate selected…");
    this.selectionText = h("span", { id: "images-selection", class: "muted", "aria-live": "polite" }, "Select images to migrate them to the other store.");
    this.empty = h("p", { id: "images-empty", class: "muted", hidden: true }, "No image matches the search.");
    this.planView = new PlanView("migration-plan");
    this.planBox = this.planView.el;
    this.progress = new ProgressPanel("migration", "Migrating images", "The migration");
    this.progressBox = this.progress.el;
    this.reclaimBox = h("section", { id: "reclaim-plan", class: "card plan", hidden: true, "aria-labelledby": "reclaim-title" });
    replace(
      root,
      h("p", { class: "lead" }, "Both image stores of the engine. Only the active one is visible to docker; the other one keeps its images until you switch back."),
      h("div", { class: "field search" }, h("label", { for: "images-search" }, "Search images"), this.search, this.count),
      this.empty,
      this.storesBox,
      h("div", { class: "actions selection-bar", id: "images-actions" }, this.migrateButton, this.selectionText),
      this.planBox,
      this.progressBox,
      this.reclaimBox,
    );
    await this.load();
    // The wizard's "Free the … store's space" lands here with the store to empty.
    const intent = ctx.takeIntent?.("images");
    if (intent?.reclaim) this.reclaimPlan(intent.reclaim);
  },

  async load() {
    const remote = this.ctx.remote;
    if (remote) replace(this.storesBox, remoteBusy(remote, "both stores' images", "images-busy"));
    try {
      const view = await ipc.imagesList();
      this.view = view;
      this.render(view);
    } catch (error) {
      replace(this.storesBox, callErrorView(error, "Stowage could not list the images.", remote ? () => this.load() : null));
    } finally {
      this.storesBox.setAttribute("aria-busy", "false");
    }
  },

  render(view) {
    this.inBoth = new Set(view.in_both ?? []);
    const usage = Object.fromEntries(view.stores.map((s) => [s.store, s]));
    // Without the filesystem's free space the bars compare the two stores: the larger one is full.
    const scale = Math.max(1, ...view.stores.map((s) => s.disk_bytes ?? s.bytes ?? 0));
    const columns = STORES.map((store) => {
      const u = usage[store];
      const active = view.active === store;
      const images = view.images.filter((i) => i.store === store);
      const title = `${store === "classic" ? "Classic" : "containerd"} store`;
      const badge = active
        ? h("span", { class: "badge active", id: `store-${store}-state` }, "Active")
        : h("span", { class: "badge hidden-store", id: `store-${store}-state` }, "Hidden, not lost");
      const disk = u?.disk_bytes ?? u?.bytes ?? 0;
      // Freeing a store and migrating are this machine's engine's only.
      const reclaimable = !view.remote && !active && u?.readable && view.active && (u.images > 0 || u.containers > 0);
      const body = !u || !u.readable
        ? errorView({ message: `Stowage could not read the ${store} store.`, detail: u?.error ?? "no details" })
        : [
            h("p", { class: "muted", id: `store-${store}-totals` }, `${plural(u.images, "image")}, ${plural(u.containers, "container")}`),
            this.diskBar(store, disk, u.filesystem, scale),
            this.breakdown(store, u),
            active ? null : h("p", { class: "hidden-note" }, `The engine runs the ${view.active ?? "other"} store, so these images are hidden from docker. They are kept: they come back when you switch back.`),
            images.length
              ? h("ul", { class: "image-list", "aria-label": `Images of the ${title}` }, images.map((img, i) => this.row(img, store, i, active)))
              : h("p", { class: "muted" }, "No images."),
          ];
      return h(
        "section",
        { class: `card store${active ? " is-active" : " is-hidden"}`, id: `store-${store}`, "aria-labelledby": `store-${store}-title`, dataset: { active: String(active) } },
        h(
          "div",
          { class: "store-head" },
          h("h2", { id: `store-${store}-title` }, title, " ", badge),
          // The hidden store's space back: the plan first, then its name typed to confirm.
          reclaimable
            ? h("button", { type: "button", class: "secondary danger", id: `store-${store}-reclaim`, disabled: this.running, "aria-describedby": `du-${store}-label`, onclick: () => this.reclaimPlan(store) }, `Free ${humanBytes(disk)}…`)
            : null,
        ),
        body,
      );
    });
    replace(this.storesBox, columns, this.sizeTerms(view));
    this.filter();
    this.selectionChanged();
  },

  /** What each size on the page counts (the core's words, one vocabulary). */
  sizeTerms(view) {
    const terms = view.size_terms ?? [];
    if (!terms.length) return null;
    return h(
      "details",
      { id: "size-terms", class: "size-terms" },
      h("summary", {}, "What the sizes count"),
      h("dl", {}, terms.map(([term, meaning]) => [h("dt", {}, term), h("dd", {}, rich(meaning))])),
    );
  },

  /** This store's use of the filesystem it writes to: what it takes against that plus what is free. */
  diskBar(store, disk, fs, scale) {
    const free = fs?.free_bytes;
    const known = free !== null && free !== undefined;
    const max = known ? disk + free : scale;
    const label = known
      ? `On disk: ${humanBytes(disk)} used · ${humanBytes(free)} free on ${fs.mount_point}`
      : `On disk: ${humanBytes(disk)} (the bar compares the two stores)`;
    return h(
      "div",
      { class: "du" },
      h("label", { for: `du-${store}`, id: `du-${store}-label` }, label),
      h("meter", { id: `du-${store}`, min: "0", max: String(Math.max(1, max)), value: String(disk), title: known ? `${humanBytes(disk)} of ${humanBytes(disk + free)} (used + free)` : `${humanBytes(disk)} on disk` }),
    );
  },

  /** What the store's bytes are (the engine's own count for the active store, as `docker system df`). */
  breakdown(store, u) {
    const b = u.breakdown ?? {};
    const parts = [
      ["Images", b.images_bytes],
      ["Compressed content", b.content_bytes],
      ["Containers' layers", b.containers_bytes],
      ["Build cache", b.build_cache_bytes],
    ].filter(([, n]) => n !== null && n !== undefined).map(([k, n]) => `${k} ${humanBytes(n)}`);
    if (!parts.length) return null;
    const from = u.source === "engine" ? " (as docker system df counts them)" : "";
    return h("p", { class: "muted", id: `store-${store}-breakdown` }, `${parts.join(" · ")}${from}`);
  },

  /** The reclaim plan for the hidden `store`: everything it deletes, then a typed confirmation. */
  async reclaimPlan(store) {
    const u = this.view?.stores.find((s) => s.store === store);
    this.reclaimRequest = { store, include_containers: (u?.containers ?? 0) > 0 };
    const title = h("h2", { id: "reclaim-title" }, `Free the ${store} store's space`);
    this.reclaimBox.hidden = false;
    replace(this.reclaimBox, title, h("p", { "aria-busy": "true" }, "Planning…"));
    this.reclaimBox.scrollIntoView?.({ block: "nearest" });
    try {
      const p = await ipc.imagesReclaimPlan(this.reclaimRequest);
      const confirm = h("input", { type: "text", id: "reclaim-confirm", autocomplete: "off", spellcheck: "false", "aria-describedby": "reclaim-warning" });
      const label = p.via_pkexec ? `Delete and free ${humanBytes(p.bytes ?? 0)} (asks for your password)` : `Delete and free ${humanBytes(p.bytes ?? 0)}`;
      const run = h("button", { type: "button", id: "reclaim-run", class: "primary danger", disabled: true, onclick: () => this.reclaim(confirm.value) }, label);
      // The core checks the name again (ReclaimPlan::confirm); this only enables the button.
      confirm.addEventListener("input", () => { run.disabled = confirm.value.trim() !== store; });
      const names = p.images.slice(0, 10).map((i) => h("li", {}, `${imageName(i)} (${humanBytes(i.size)})`));
      const more = p.images.length > 10 ? h("li", { class: "muted" }, `and ${p.images.length - 10} more`) : null;
      const deletions = p.deletions.kind === "containerd"
        ? [`Through containerd (${p.deletions.socket}, namespace ${p.deletions.namespace}): ${plural(p.deletions.images.length, "image record")}, ${plural(p.deletions.container_leases.length, "container lease")}, then garbage collection.`]
        : [...(p.deletions.image_dir ? [p.deletions.image_dir] : []), ...p.deletions.layer_dirs, ...p.deletions.links];
      replace(
        this.reclaimBox,
        title,
        h("p", { class: "summary", id: "reclaim-summary" }, `Deletes ${plural(p.images.length, "image")}${p.containers.length ? ` and ${plural(p.containers.length, "container")} (${p.containers.map((c) => c.name).join(", ")})` : ""} of the ${p.store} store, ${humanBytes(p.bytes ?? 0)} on disk. The engine runs the ${p.active} store, which is not touched.`),
        p.images.length ? h("ul", { id: "reclaim-images", "aria-label": "Images deleted" }, names, more) : null,
        h("details", {}, h("summary", {}, "Exactly what is deleted"), h("ul", { class: "paths" }, [...p.container_dirs, ...deletions].slice(0, 200).map((d) => h("li", {}, h("code", {}, d))))),
        p.pin ? h("details", {}, h("summary", {}, "daemon.json pins the store the engine runs first"), h("pre", { class: "detail" }, p.pin.diff)) : null,
        h("p", { class: "warning", id: "reclaim-warning", role: "note" }, p.warning),
        h("div", { class: "field" }, h("label", { for: "reclaim-confirm" }, `Type ${p.store} to confirm`), confirm),
        h("div", { class: "actions" }, run, h("button", { type: "button", class: "secondary", id: "reclaim-cancel", onclick: () => { this.reclaimBox.hidden = true; } }, "Cancel")),
      );
      confirm.focus();
    } catch (error) {
      replace(this.reclaimBox, title, errorView(error, "This store cannot be freed."), h("div", { class: "actions" }, h("button", { type: "button", class: "secondary", onclick: () => { this.reclaimBox.hidden = true; } }, "Close")));
    }
  },

  async reclaim(typed) {
    this.running = true;
    this.reclaimOp = null;
    const store = this.reclaimRequest.store;
    this.reclaimSteps = h("ol", { id: "reclaim-steps", class: "stages" });
    this.reclaimOutcome = h("div", { id: "reclaim-outcome", class: "outcome", tabindex: "-1", "aria-live": "polite" });
    replace(this.reclaimBox, h("h2", { id: "reclaim-title" }, `Freeing the ${store} store's space`), this.reclaimSteps, this.reclaimOutcome);
    try {
      const o = await ipc.imagesReclaim({ ...this.reclaimRequest, confirmation: typed });
      this.reclaimFinished(o);
    } catch (error) {
      replace(this.reclaimOutcome, errorView(error, "The space could not be freed."));
      this.reclaimOutcome.dataset.outcome = "failed";
    } finally {
      this.running = false;
      await this.load();
    }
  },

  reclaimFinished(o) {
    if (!this.reclaimOutcome || this.reclaimOutcome.dataset.outcome) return;
    this.reclaimOutcome.dataset.outcome = o.outcome;
    for (const li of this.reclaimSteps.querySelectorAll('li[data-state="started"]')) li.dataset.state = o.outcome === "applied" ? "finished" : "failed";
    replace(
      this.reclaimOutcome,
      h("p", { class: "outcome-title" }, o.outcome === "applied" ? "Freed" : "Failed"),
      h("p", { class: "outcome-message", id: "reclaim-message" }, o.message || ""),
      o.error && o.outcome !== "applied" ? h("details", {}, h("summary", {}, "Details"), h("pre", { class: "detail" }, o.error)) : null,
    );
    this.reclaimOutcome.focus();
  },

  row(img, store, i, active) {
    const id = `img-${store}-${i}`;
    const name = imageName(img);
    const ref = img.references.find((r) => !r.includes("@")) ?? img.references[0] ?? img.id;
    return h(
      "li",
      { class: "image", dataset: { ref, store, search: `${img.references.join(" ")} ${img.platforms.join(" ")} ${img.id}`.toLowerCase(), hidden: String(!active) } },
      h("input", { type: "checkbox", id, dataset: { ref, store }, "aria-describedby": `${id}-meta`, disabled: this.running || !!this.view?.remote, onchange: () => this.selectionChanged() }),
      h(
        "div",
        {},
        h("label", { for: id }, name),
        h(
          "p",
          { class: "muted meta", id: `${id}-meta` },
          `${img.platforms.length ? img.platforms.join(", ") : "platform unknown"} · image size ${humanBytes(img.size)}${img.containers ? ` · ${plural(img.containers, "container")}` : ""}${active ? "" : " · hidden"}${this.inBoth?.has(ref) ? ` · also in the ${store === "classic" ? "containerd" : "classic"} store` : ""}`,
        ),
      ),
    );
  },

  filter() {
    const q = this.query.trim().toLowerCase();
    let shown = 0;
    let all = 0;
    for (const li of this.storesBox.querySelectorAll("li.image")) {
      all += 1;
      const match = !q || li.dataset.search.includes(q);
      li.hidden = !match;
      if (match) shown += 1;
    }
    this.count.textContent = q ? `${shown} of ${all} shown` : plural(all, "image");
    this.empty.hidden = !(q && all > 0 && shown === 0);
    // A store whose every image is filtered out says so instead of an empty list.
    for (const list of this.storesBox.querySelectorAll("ul.image-list")) {
      const none = ![...list.children].some((li) => !li.hidden);
      list.hidden = none;
      let note = list.parentElement.querySelector(".no-match");
      if (!note) {
        note = h("p", { class: "muted no-match" }, "No image of this store matches the search.");
        list.after(note);
      }
      note.hidden = !none;
    }
  },

  selected() {
    return [...this.storesBox.querySelectorAll("li.image input:checked")].map((b) => ({ ref: b.dataset.ref, store: b.dataset.store }));
  },

  selectionChanged() {
    const sel = this.selected();
    const stores = new Set(sel.map((s) => s.store));
    if (this.view?.remote) {
      this.migrateButton.disabled = true;
      this.selectionText.textContent = `These are ${this.view.remote.name}'s images. Migrating images works on this machine's engine.`;
    } else if (!sel.length) {
      this.migrateButton.disabled = true;
      this.selectionText.textContent = "Select images to migrate them to the other store.";
    } else if (stores.size > 1) {
      this.migrateButton.disabled = true;
      this.selectionText.textContent = "Select images of one store at a time.";
    } else {
      const from = [...stores][0];
      this.target = from === "classic" ? "containerd" : "classic";
      this.migrateButton.disabled = this.running;
      this.selectionText.textContent = `${sel.length} selected: migrate to the ${this.target} store.`;
    }
  },

  async plan() {
    const references = this.selected().map((s) => s.ref);
    this.request = { references, to: this.target };
    this.progress.hide();
    this.planView.busy("Migration plan");
    this.planBox.scrollIntoView?.({ block: "nearest" });
    try {
      const p = await ipc.imagesMigrationPlan(this.request);
      this.planView.show(p, {
        title: "Migration plan",
        applyLabel: p.restarts ? "Migrate & Restart" : "Migrate",
        onApply: (choices) => this.run(choices),
        onCancel: () => this.planView.hide(),
      });
    } catch (error) {
      this.planView.failed("Migration plan", errorView(error, "This migration cannot run."), () => this.planView.hide());
    }
  },

  async run({ startAgain }) {
    this.running = true;
    this.planView.hide();
    this.migrateButton.disabled = true;
    this.progress.start([]);
    this.progressBox.scrollIntoView?.({ block: "nearest" });
    try {
      this.progress.finish(await ipc.imagesMigrate({ ...this.request, start_again: startAgain }));
    } catch (error) {
      this.progress.finish({ outcome: "failed", message: "The migration could not start.", error: errorText(error) });
    } finally {
      this.running = false;
      await this.load();
      this.progress.outcome.focus();
    }
  },

  onEvent(ev) {
    if (this.progress.follow(ev, (e) => e.kind === "migration" && e.source === "window" && this.running)) return;
    switch (ev.type) {
      case "operation_started":
        if (ev.kind === "reclaim" && this.running) this.reclaimOp = ev.op;
        break;
      case "reclaim_progress":
        if (!this.reclaimSteps || ev.op !== this.reclaimOp) break;
        for (const li of this.reclaimSteps.querySelectorAll('li[data-state="started"]')) li.dataset.state = "finished";
        this.reclaimSteps.append(h("li", { dataset: { state: "started" } }, h("span", { class: "stage-state", "aria-hidden": "true" }), h("span", { class: "stage-name" }, capitalize(ev.step))));
        break;
      case "operation_finished":
        if (this.reclaimSteps && ev.op === this.reclaimOp) this.reclaimFinished(ev.outcome);
        break;
      case "engine_changed":
        if (!this.running && (this.view?.active ?? null) !== (ev.status.active_store ?? null)) this.load();
        break;
      default:
    }
  },
};
