// The only module that talks to the Tauri backend (invoke and the event channel). Pages import
// these functions, so they can be rendered without window.__TAURI__ (e.g. in a plain browser).

/** Thrown when the page runs outside the Tauri webview (e.g. a plain browser). */
export class IpcUnavailableError extends Error {
  constructor() {
    super("The Stowage backend is not available (not running inside the app).");
    this.name = "IpcUnavailableError";
  }
}

function tauri() {
  const api = globalThis.__TAURI__;
  if (!api || !api.core || !api.event) {
    throw new IpcUnavailableError();
  }
  return api;
}

function call(command, args) {
  try {
    return tauri().core.invoke(command, args);
  } catch (error) {
    return Promise.reject(error);
  }
}

/** Whether the page runs inside the Tauri webview. */
export function isAvailable() {
  const api = globalThis.__TAURI__;
  return Boolean(api && api.core && api.event);
}

/** The backend's single event channel (see src-tauri/src/events.rs). */
export const EVENT_CHANNEL = "stowage:event";

/**
 * Subscribes to backend events; `handler` gets `{type, ...}` payloads.
 * @returns {Promise<() => void>} resolves to a function that unsubscribes
 */
export function onAppEvent(handler) {
  try {
    return tauri().event.listen(EVENT_CHANNEL, (message) => handler(message.payload));
  } catch (error) {
    return Promise.reject(error);
  }
}

// App
export const appInfo = () => call("app_info");
export const uiPainted = (what) => call("ui_painted", { what });

// General
export const generalEngines = () => call("general_engines");
export const generalSelectEngine = (name) => call("general_select_engine", { name });
export const generalPrefs = () => call("general_prefs");
export const generalSetPrefs = (prefs) => call("general_set_prefs", { prefs });
/** Shows the engine of a docker context: another host's over ssh, or one at a local address. */
export const generalSelectContext = (name) => call("general_select_context", { name });

// Another host's engine
/** Cancels every read of another host in flight (its ssh is stopped). */
export const remoteCancel = () => call("remote_cancel");
/** Stops waiting for a change on another host (the change goes on there). */
export const remoteStopWaiting = () => call("remote_stop_waiting");

// Hosts
export const hostsStatus = () => call("hosts_status");
/** @param {"classic"|"containerd"} store */
export const hostsPlan = (store) => call("hosts_plan", { store });
export const hostsSwitch = (planId) => call("hosts_switch", { planId });
/** Starts no more hosts of the running fleet switch (the running ones finish or roll back). */
export const hostsStop = () => call("hosts_stop");

// Features in development
export const featuresList = () => call("features_list");
/** @param {{id: string, enable: boolean}[]} changes */
export const featuresPlan = (changes) => call("features_plan", { changes });
export const featuresPlanSnapshotter = (name) => call("features_plan_snapshotter", { name });
/**
 * @param {string[]} [projects] compose projects to bring across a store switch
 * @param {boolean} [startAgain] start the containers the restart stops again (the default)
 */
export const featuresApply = (planId, projects = [], startAgain = true) => call("features_apply", { planId, projects, startAgain });
export const featuresDiscard = () => call("features_discard");

// Engine
export const engineStatus = () => call("engine_status");
export const engineStatusCached = () => call("engine_status_cached");
/** What a restart stops, and the offer to start those containers again. */
export const engineRestartPlan = () => call("engine_restart_plan");
/** @param {boolean} [startAgain] start the containers the restart stops again (the default) */
export const engineRestart = (startAgain = true) => call("engine_restart", { startAgain });
export const engineConfig = () => call("engine_config");
export const engineLogs = () => call("engine_logs");

// About / Troubleshoot
export const aboutVersions = () => call("about_versions");
export const aboutOpenLogFolder = () => call("about_open_log_folder");
/** Saves a diagnostics bundle (in Downloads, or where the user picks with `choose`); null when cancelled. */
export const aboutExportDiagnostics = (choose) => call("about_export_diagnostics", { choose });
/** Opens a documentation page in the browser (the backend allows only known documentation sites). */
export const openDocumentation = (url) => call("open_documentation", { url });
/** Shows a file the app saved in the file manager. */
export const revealSavedFile = (path) => call("reveal_saved_file", { path });

// Images
export const imagesList = () => call("images_list");
/** @param {{references: string[], to: "classic"|"containerd"}} input */
export const imagesMigrationPlan = (input) => call("images_migration_plan", { input });
export const imagesMigrate = (input) => call("images_migrate", { input });
export const imagesReclaimPlan = (input) => call("images_reclaim_plan", { input });
export const imagesReclaim = (input) => call("images_reclaim", { input });

// Diagnostics
export const diagnosticsRun = (ifSwitching) => call("diagnostics_run", { ifSwitching });
export const diagnosticsMute = (id, muted) => call("diagnostics_mute", { id, muted });
export const diagnosticsFixPreview = (id, ifSwitching) => call("diagnostics_fix_preview", { id, ifSwitching });
/** @param {boolean} [startAgain] start the containers its restart stops again (the default) */
export const diagnosticsFixApply = (fixId, startAgain = true) => call("diagnostics_fix_apply", { fixId, startAgain });

// First-run wizard
export const wizardPending = () => call("wizard_pending");
export const wizardState = (restart = false) => call("wizard_state", { restart });
/** @param {{input: string}} input e.g. {input: "chose", store: null} */
export const wizardAdvance = (input) => call("wizard_advance", { input });
/** The plan of the wizard's switch to `store` (nothing is written). */
export const wizardPlan = (store) => call("wizard_plan", { store });
