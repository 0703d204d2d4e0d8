// Small DOM helpers shared by the pages. No innerHTML with data: text goes in as text nodes.
import * as ipc from "./ipc.js";

/**
 * Creates an element: h("p", {class: "x", id: "y"}, "text", child).
 * Attributes starting with "on" become listeners; `true`/`false` toggle boolean attributes.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (value === true) {
      el.setAttribute(key, "");
    } else {
      el.setAttribute(key, String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces an element's children. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** An error from a command ({code, message, detail}), an Error, or a string, as {message, detail}. */
export function normalizeError(error) {
  if (error && typeof error === "object" && "message" in error && !(error instanceof Error)) {
    return { message: String(error.message), detail: error.detail ?? null };
  }
  if (error instanceof Error) {
    return { message: error.message, detail: null };
  }
  return { message: String(error), detail: null };
}

/** A sentence, with the technical detail one click away. */
export function errorView(error, lead) {
  const { message, detail } = normalizeError(error);
  return h(
    "div",
    { class: "error-box", role: "alert" },
    h("p", {}, lead ? `${lead} ${message}` : message),
    detail ? h("details", {}, h("summary", {}, "Details"), h("pre", { class: "detail" }, detail)) : null,
  );
}

/** A unified diff with added/removed lines marked (for screen readers too). */
export function diffView(diff) {
  const pre = h("pre", { class: "diff", tabindex: "0", "aria-label": "daemon.json changes" });
  for (const line of diff.replace(/\n$/, "").split("\n")) {
    let cls = "ctx";
    let label = null;
    if (line.startsWith("+++") || line.startsWith("---")) cls = "file";
    else if (line.startsWith("@@")) cls = "hunk";
    else if (line.startsWith("+")) { cls = "add"; label = "added"; }
    else if (line.startsWith("-")) { cls = "del"; label = "removed"; }
    const span = h("span", { class: `diff-${cls}` });
    if (label) span.append(h("span", { class: "visually-hidden" }, `${label}: `));
    span.append(document.createTextNode(line));
    pre.append(span, "\n");
  }
  return pre;
}

/** A definition list of [term, value] pairs. */
export function facts(pairs, attrs = {}) {
  return h(
    "dl",
    { class: "facts", ...attrs },
    pairs
      .filter((p) => p)
      .map(([term, value, id]) => h("div", { class: "fact" }, h("dt", {}, term), h("dd", id ? { id } : {}, value ?? "—"))),
  );
}

let stageTitles = {};

/** Takes the core's stage titles (from `app_info`), so stages read as the core names them. */
export function setStageTitles(titles) {
  stageTitles = titles ?? {};
}

/** A stage for people: the core's title ("Writing daemon.json"). */
export function stageName(stage) {
  return stageTitles[stage] ?? capitalize(String(stage).replaceAll("_", " "));
}

/** "1 image", "2 images": a count with its noun, singular or plural. */
export function plural(n, one, many = `${one}s`) {
  return `${n} ${Number(n) === 1 ? one : many}`;
}

/** A sentence's first letter in capitals ("saving images" -> "Saving images"). */
export function capitalize(text) {
  const s = String(text ?? "");
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/**
 * Text with `code` spans as <code> elements (the core's sentences mark file names, keys and
 * commands with backticks): an array of nodes for h() or replace().
 */
export function rich(text) {
  return String(text ?? "")
    .split(/`([^`]+)`/)
    .map((part, i) => (i % 2 ? h("code", {}, part) : part))
    .filter((part) => part !== "");
}

/**
 * An engine as a person knows it: the core's `label` ("System Docker (docker.service)",
 * "Stowage's sandbox", …), the same words the tray and stowctl use. The core puts it in every
 * engine's JSON; the page never makes one up.
 */
export function engineLabel(engine, remote) {
  // The core's label (every engine view carries it); the address when nothing else is known.
  const label = engine ? engine.label || engine.host || engine.name : "unknown engine";
  // Another host's engine is named by its host first ("web1: System Docker (docker.service)").
  return remote ? `${remote.name}: ${label}` : label;
}

/**
 * "Asking web1 over ssh…" with a Cancel button (every read of another host can be cancelled:
 * its ssh is stopped). `what` says what is asked.
 */
export function remoteBusy(remote, what, id = "remote-busy") {
  return h(
    "div",
    { class: "remote-busy", id, role: "status" },
    h("span", {}, `Asking ${remote.name} over ssh for ${what}…`),
    h("button", { type: "button", class: "secondary", id: `${id}-cancel`, onclick: () => ipc.remoteCancel().catch(() => {}) }, "Cancel"),
  );
}

/**
 * An error of a call; a cancelled read of another host says so (not an error) with Try again.
 */
export function callErrorView(error, lead, retry) {
  if (error?.code === "cancelled") {
    return h(
      "div",
      { class: "cancelled", role: "status" },
      h("p", {}, error.message),
      retry ? h("button", { type: "button", class: "secondary", onclick: retry }, "Try again") : null,
    );
  }
  const box = errorView(error, lead);
  if (retry) box.append(h("div", { class: "actions" }, h("button", { type: "button", class: "secondary", onclick: retry }, "Try again")));
  return box;
}

/**
 * A documentation link: a real link (keyboard, context) that the backend opens in the browser;
 * it opens only the documentation sites the core knows.
 */
export function docsLink(url, text, onError) {
  return h(
    "a",
    {
      href: url,
      class: "external",
      onclick: (e) => {
        e.preventDefault();
        ipc.openDocumentation(url).catch((error) => onError?.(error));
      },
    },
    text,
    h("span", { class: "visually-hidden" }, " (opens in your browser)"),
  );
}

/**
 * A file path that wraps at its "/" boundaries, not mid-word: a <wbr> after each "/" (the
 * `.path` style lets it break mid-word only when one part is wider than the line).
 */
export function pathText(path, attrs = {}) {
  const parts = String(path ?? "").split(/(?<=\/)/);
  return h("span", { ...attrs, class: `path ${attrs.class ?? ""}`.trim() }, parts.flatMap((p, i) => (i < parts.length - 1 ? [p, h("wbr")] : [p])));
}

/** "classic" -> "classic image store". */
export function storeText(store) {
  return store ? `${store} image store` : "unknown";
}
