// Images: coming soon (the per-store image lists are being added to the core).
import { h, replace } from "../ui.js";

export default {
  id: "images",
  title: "Images",
  mount(root, ctx) {
    replace(
      root,
      h(
        "section",
        { class: "card soon-card", "aria-labelledby": "images-soon-title", id: "images-soon" },
        h("h2", { id: "images-soon-title" }, "Coming soon"),
        h("p", {}, "This page will show the classic and the containerd image store side by side: which one is active, the images of the other one as hidden (not lost), platforms per image, disk use per store, and Migrate for selected images."),
        h("p", { class: "muted" }, "Meanwhile `docker images` lists the active store, and `stowctl status` says which one that is."),
        h("button", { type: "button", class: "secondary", onclick: () => ctx.navigate("engine") }, "Show the engine's status"),
      ),
    );
  },
  onEvent() {},
};
