// Times as people read them.

/** "since 14:02" for Unix seconds, or "" when unknown. */
export function sinceText(secs) {
  if (!secs) return "";
  return `since ${new Date(secs * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}`;
}
