// A video in a list: poster that turns into the animated preview on hover or keyboard focus.

import { h } from "../lib/dom";
import { formatAge, formatCount, formatDuration } from "../lib/format";
import type { Video } from "../lib/types";
import { statusBadge } from "./status";

export function thumbnail(video: Video): HTMLElement {
  const duration = video.media?.durationSeconds;
  const image = video.thumbnailUrl
    ? h("img", { src: video.thumbnailUrl, alt: "", loading: "lazy", decoding: "async", width: 320, height: 180 })
    : h("div", { class: "thumb-placeholder" }, video.status === "failed" ? "No picture" : "Processing…");
  return h(
    "div",
    { class: "thumb" },
    image,
    duration ? h("span", { class: "duration" }, formatDuration(duration)) : null,
  );
}

/** Swaps the poster for the animated preview while `trigger` is hovered or focused. */
export function animateOnHover(trigger: HTMLElement, video: Video): void {
  const image = trigger.querySelector("img");
  if (!image || !video.previewUrl) return;
  const still = video.thumbnailUrl;
  const start = (): void => {
    image.src = video.previewUrl;
  };
  const stop = (): void => {
    image.src = still;
  };
  trigger.addEventListener("mouseenter", start);
  trigger.addEventListener("mouseleave", stop);
  trigger.addEventListener("focus", start);
  trigger.addEventListener("blur", stop);
}

export function videoCard(video: Video): HTMLElement {
  const views = formatCount(Number(video.viewCount), "view", "views");
  const link = h(
    "a",
    { class: "card-link", href: `/watch/${encodeURIComponent(video.id)}` },
    thumbnail(video),
    h("h2", { class: "card-title" }, video.title),
  );
  animateOnHover(link, video);
  return h(
    "li",
    { class: "card" },
    link,
    h(
      "p",
      { class: "card-meta" },
      `${views} · ${formatAge(video.createTime)}`,
      video.status !== "ready" ? [" ", statusBadge(video)] : null,
    ),
  );
}
