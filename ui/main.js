// The settings window's shell: sidebar navigation (hash routes), the engine chip, notices, the
// theme, and dispatching backend events to the page on screen. Talks to the backend only
// through ./ipc.js; each page is one module in ./pages/, loaded when it is first shown, so the
// engine's status is painted before any page's code is read.
import * as ipc from "./ipc.js";
import { sinceText } from "./time.js";
import { engineLabel, errorView, h, replace, setStageTitles } from "./ui.js";

/** The pages, by id: ./pages/<id>.js. */
const PAGE_IDS = ["general", "features", "engine", "images", "hosts", "diagnostics", "about", "wizard"];
const DEFAULT_PAGE = "general";
const loadedPages = new Map();

/** The page module `id` (one of PAGE_IDS), imported once. */
function loadPage(id) {
  if (!loadedPages.has(id)) loadedPages.set(id, import(`./pages/${id}.js`).then((m) => m.default));
  return loadedPages.get(id);
}

let current = null;
let pendingConfirm = null;
let pendingIntent = null;
let painted = false;

const ctx = {
  navigate: (id, intent) => {
    if (intent) pendingIntent = { page: id, ...intent };
    if (current?.id === id) {
      // Already on screen: keep its state (e.g. a plan shown), but hand it a new intent.
      if (intent) show(id, true);
      return;
    }
    if (location.hash === `#${id}`) show(id, true);
    else location.hash = `#${id}`;
  },
  applyTheme,
  notice,
  /** What another page asked `page` to open (e.g. the wizard: free a store), taken once. */
  takeIntent(page) {
    if (pendingIntent?.page !== page) return null;
    const i = pendingIntent;
    pendingIntent = null;
    return i;
  },
  /** A plan the tray asked to confirm, taken once by the Features page. */
  takeConfirm() {
    const p = pendingConfirm;
    pendingConfirm = null;
    return p;
  },
  /** The host whose engine the window shows ({name, address}), or null for this machine's. */
  remote: null,
  /** The window shows `remote`'s engine from now on (null: this machine's). */
  setRemote(remote) {
    ctx.remote = remote ?? null;
    document.body.dataset.remote = ctx.remote ? ctx.remote.name : "";
  },
  /** A status a page read: the engine chip follows it. */
  showStatus(st) {
    if (st) showChip(st);
  },
  /** The chip while `remote` is asked (or, with `error`, when it did not answer). */
  chipAsking: (remote, error) => chipAsking(remote, error),
};

function applyTheme(theme) {
  document.documentElement.dataset.theme = theme || "system";
}

function notice(message, detail, level = "error") {
  const area = document.getElementById("notice");
  const close = h("button", { type: "button", class: "link", onclick: () => replace(area) }, "Dismiss");
  const box = level === "error" ? errorView({ message, detail }) : h("p", { role: "status" }, message);
  box.append(close);
  replace(area, box);
}

function pageFromHash() {
  const id = location.hash.replace(/^#/, "");
  return PAGE_IDS.includes(id) ? id : DEFAULT_PAGE;
}

let showing = 0;

async function show(id, focus) {
  const asked = ++showing;
  let page;
  try {
    page = await loadPage(PAGE_IDS.includes(id) ? id : DEFAULT_PAGE);
  } catch (error) {
    replace(document.getElementById("page-body"), errorView(error, "This page could not be loaded."));
    return;
  }
  if (asked !== showing) return; // another page was asked for meanwhile
  if (current && current !== page && current.unmount) current.unmount();
  current = page;
  for (const a of document.querySelectorAll("#nav-list a")) {
    if (a.dataset.page === page.id) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  const title = document.getElementById("page-title");
  title.textContent = page.title;
  document.title = `${page.title} · Stowage`;
  document.body.dataset.page = page.id;
  const body = document.getElementById("page-body");
  if (focus) title.focus();
  try {
    await page.mount(body, ctx);
  } catch (error) {
    replace(body, errorView(error, "This page could not be shown."));
  }
}

function chipText(st, stoppedSince) {
  const name = engineLabel(st.engine, st.remote);
  if (!st.reachable) return `${name} · Engine stopped ${sinceText(stoppedSince)}`.trim();
  return `${name} · ${st.active_store ?? "unknown"} store`;
}

/** The chip while another host is asked, or when it could not be. */
function chipAsking(remote, error) {
  const chip = document.getElementById("engine-chip");
  chip.textContent = error ? `${remote.name} · not answering` : `${remote.name} · asking over ssh…`;
  chip.dataset.store = "unknown";
  chip.dataset.reachable = error ? "false" : "unknown";
  chip.setAttribute("aria-busy", String(!error));
}

let fresh = false;

/** The engine chip; `cached`: what the last launch saw, shown while the engine is asked again. */
function showChip(st, stoppedSince = st.stopped_since, cached = false) {
  if (cached && fresh) return;
  if (!cached) fresh = true;
  const chip = document.getElementById("engine-chip");
  chip.textContent = cached ? `${chipText(st, stoppedSince)} · checking…` : chipText(st, stoppedSince);
  chip.dataset.store = st.active_store ?? "unknown";
  chip.dataset.reachable = String(st.reachable);
  chip.dataset.cached = String(cached);
  chip.setAttribute("aria-busy", String(cached));
  if (!painted) {
    painted = true;
    // Two frames: the chip is on screen, then tell the backend (scripts/bench-app.sh times it).
    requestAnimationFrame(() => requestAnimationFrame(() => ipc.uiPainted("engine-data").catch(() => {})));
  }
}

function onEvent(ev) {
  switch (ev.type) {
    case "engine_changed":
      // This machine's engine is watched for the tray while the window shows another host's.
      if (!ev.selected) return;
      showChip({ ...ev.status, remote: ev.remote }, ev.stopped_since);
      // Another host's status is read by its pages themselves: they are not told again.
      if (ev.remote) return;
      break;
    case "navigate":
      ctx.navigate(ev.page);
      break;
    case "confirm_restart":
      // The tray's Restart stops running containers: the Engine page asks with its plan.
      ctx.navigate("engine", { restart: true });
      return;
    case "confirm_plan":
      if (ctx.remote) {
        // The tray switches this machine's engine; the window shows another host's.
        notice(`The tray's switch is for this machine's engine, and the window shows the engine of ${ctx.remote.name}. Choose this machine's engine on the General page to review it.`, null, "info");
        return;
      }
      if (current?.id === "features") {
        current.onEvent(ev);
        return;
      }
      pendingConfirm = ev.plan;
      ctx.navigate("features");
      return;
    case "notice":
      notice(ev.message, ev.detail, ev.level);
      break;
    default:
  }
  current?.onEvent?.(ev);
}

async function start() {
  if (!ipc.isAvailable()) {
    replace(document.getElementById("page-body"), errorView(new ipc.IpcUnavailableError()));
    return;
  }
  // The engine's status first: it is what the user came for. What the last launch saw is painted
  // at once (marked as being checked), the engine's answer replaces it.
  ipc.engineStatusCached().then((st) => { if (st) showChip(st, undefined, true); }).catch(() => {});
  ipc
    .engineStatus()
    .then((st) => {
      ctx.setRemote(st.remote);
      showChip(st);
    })
    .catch((error) => {
      if (ctx.remote) return chipAsking(ctx.remote, error);
      const chip = document.getElementById("engine-chip");
      chip.textContent = "No engine";
      chip.setAttribute("aria-busy", "false");
      notice("Stowage could not find an engine to manage.", error?.detail ?? error?.message ?? String(error));
    });
  await ipc.onAppEvent(onEvent);
  ipc.generalPrefs().then((p) => applyTheme(p.theme)).catch(() => {});
  ipc.appInfo().then((info) => {
    document.getElementById("app-version").textContent = `v${info.version}`;
    setStageTitles(info.stage_titles);
  }).catch(() => {});
  window.addEventListener("hashchange", () => show(pageFromHash(), true));
  // A click on the page already shown reloads it (a hash link to itself fires no hashchange).
  document.getElementById("nav-list").addEventListener("click", (e) => {
    const link = e.target.closest("a[data-page]");
    if (link && current && link.dataset.page === current.id) {
      e.preventDefault();
      show(current.id, true);
    }
  });
  // First launch: the compatibility wizard greets the user (it stays in the sidebar later).
  let first = false;
  try {
    first = await ipc.wizardPending();
  } catch {
    first = false;
  }
  if (first && !location.hash) history.replaceState(null, "", "#wizard"); // no hashchange
  await show(pageFromHash(), false);
}

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", start, { once: true });
} else {
  start();
}
