// Where a video or job is, as a short badge with words (colour is only a second cue).

import { h } from "../lib/dom";
import type { Video } from "../lib/types";

const VIDEO_WORDS: Record<string, string> = {
  uploaded: "Uploaded",
  processing: "Processing",
  ready: "Ready",
  failed: "Failed",
};

export function statusBadge(video: Video): HTMLElement {
  const job = video.latestJob;
  let text = VIDEO_WORDS[video.status] ?? video.status;
  if (video.status === "processing" && job) text += ` ${job.progress}%`;
  return h("span", { class: `badge badge-${video.status}` }, text);
}

export function jobBadge(status: string): HTMLElement {
  return h(
    "span",
    { class: `badge badge-job-${status.toLowerCase()}` },
    status.charAt(0) + status.slice(1).toLowerCase(),
  );
}

export function visibilityBadge(visibility: string): HTMLElement {
  return h("span", { class: `badge badge-${visibility}` }, visibility.charAt(0).toUpperCase() + visibility.slice(1));
}
