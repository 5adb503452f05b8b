// Watch: the adaptive player, the video's details and an MP4 download.

import { ApiError, describeError, get } from "../lib/api";
import { h } from "../lib/dom";
import type { StreamFormat } from "../lib/engines";
import {
  formatAge,
  formatBitrate,
  formatBytes,
  formatCount,
  formatDuration,
  formatLoudness,
  sentence,
} from "../lib/format";
import type { ViewContext, ViewResult } from "../lib/router";
import type { Loudness, Playback, Rendition, Stream, Video } from "../lib/types";
import { choice, choices, field } from "../ui/forms";
import { createPlayer } from "../ui/player";
import { statusBadge, visibilityBadge } from "../ui/status";

const PREFERRED_DOWNLOAD = "720p";

export async function watchView({ params, signal }: ViewContext): Promise<ViewResult> {
  const id = encodeURIComponent(params.id ?? "");
  const video = await get<Video>(`/v1/videos/${id}`, undefined, signal);
  const playback = await playable(id, video, signal);
  if (!playback) return { title: video.title, content: notReady(video) };

  const player = createPlayer(playback, video.title, signal);
  // A protected video plays over one protocol only (clearkey: DASH, aes-128: HLS): the other URL is empty.
  const start: StreamFormat = playback.hlsUrl ? "hls" : "dash";
  const formats = choices("Streaming format", [
    choice("radio", "stream-format", "hls", "HLS (hls.js)", start === "hls"),
    choice("radio", "stream-format", "dash", "DASH (Shaka Player)", start === "dash"),
  ]);
  for (const input of formats.querySelectorAll<HTMLInputElement>("input")) {
    input.disabled = !(input.value === "dash" ? playback.dashUrl : playback.hlsUrl);
  }
  formats.classList.add("inline-choices");
  formats.addEventListener("change", (event) => {
    const target = event.target as HTMLInputElement;
    if (target.checked) void player.useFormat(target.value as StreamFormat);
  });
  void player.useFormat(start);

  const views = formatCount(Number(video.viewCount), "view", "views");
  return {
    title: video.title,
    content: h(
      "article",
      { class: "watch" },
      player.element,
      h(
        "div",
        { class: "watch-body" },
        h("h1", null, video.title),
        h("p", { class: "hint" }, `${views} · ${formatAge(video.createTime)} `, visibilityBadge(video.visibility)),
        playback.live ? growing(video) : null,
        video.description ? h("p", { class: "description" }, video.description) : null,
        h(
          "div",
          { class: "watch-tools" },
          formats,
          // Downloads are made once the transcode completes.
          playback.live ? null : downloadBox(params.id ?? "", video, playback.qualities ?? [], signal),
        ),
        h("h2", null, "Details"),
        details(video, playback),
      ),
    ),
  };
}

/** The playback of a ready video, or of one still being transcoded once its first segments are out. */
async function playable(id: string, video: Video, signal: AbortSignal): Promise<Playback | null> {
  if (video.status === "ready") return get<Playback>(`/api/stream/${id}/playback`, undefined, signal);
  if (video.status !== "processing") return null;
  try {
    return await get<Playback>(`/api/stream/${id}/playback`, undefined, signal);
  } catch (error) {
    if (error instanceof ApiError && error.reason === "NOT_READY") return null; // no segment out yet
    throw error;
  }
}

function growing(video: Video): HTMLElement {
  const job = video.latestJob;
  return h(
    "p",
    { class: "notice", role: "status" },
    "Still being transcoded: it plays as it is made. ",
    job?.jobId ? h("a", { href: `/jobs/${job.jobId}` }, "Follow the job") : null,
  );
}

function notReady(video: Video): HTMLElement {
  const job = video.latestJob;
  const words: Record<string, string> = {
    uploaded: "This video has been uploaded but not transcoded yet.",
    processing: `This video is being transcoded${job ? ` (${job.progress}%)` : ""}; it plays within seconds.`,
    failed: job?.errorMessage ? `The transcode failed: ${sentence(job.errorMessage)}` : "The transcode failed.",
  };
  return h(
    "section",
    { class: "panel" },
    h("h1", null, video.title),
    h("p", null, statusBadge(video)),
    h("p", { role: "status" }, words[video.status] ?? ""),
    job?.jobId ? h("p", null, h("a", { class: "button", href: `/jobs/${job.jobId}` }, "Follow the job")) : null,
  );
}

function downloadBox(videoId: string, video: Video, qualities: Rendition[], signal: AbortSignal): HTMLElement {
  const names = qualities.map((quality) => quality.name);
  const initial = names.includes(PREFERRED_DOWNLOAD) ? PREFERRED_DOWNLOAD : (names[0] ?? "");
  const select = h(
    "select",
    { name: "download-quality" },
    names.map((name) => h("option", { value: name, selected: name === initial }, name)),
  );
  const link = h("a", { class: "button button-secondary download-link", "aria-disabled": "true" }, "Download MP4");
  const problem = h("p", { class: "notice notice-error", role: "alert" });
  async function load(): Promise<void> {
    link.removeAttribute("href");
    link.setAttribute("aria-disabled", "true");
    problem.textContent = "";
    try {
      const stream = await get<Stream>(`/api/stream/${encodeURIComponent(videoId)}`, { quality: select.value }, signal);
      if (!stream.mp4Url) throw new Error(`There is no MP4 for ${select.value}.`);
      link.href = stream.mp4Url;
      link.setAttribute("download", `${video.title.replace(/[^\w\- ]+/g, "").trim() || "video"}-${select.value}.mp4`);
      link.removeAttribute("aria-disabled");
    } catch (error) {
      if (!signal.aborted) problem.textContent = describeError(error);
    }
  }
  select.addEventListener("change", () => void load());
  if (initial) void load();
  return h("div", { class: "download" }, field("Download quality", select), link, problem);
}

function loudnessRows(loudness: Loudness | undefined): [string, string][] {
  if (!loudness) return [];
  const published = formatLoudness(loudness.outputIntegratedLufs, loudness.outputTruePeakDbtp);
  return [
    ["Source loudness", formatLoudness(loudness.inputIntegratedLufs, loudness.inputTruePeakDbtp)],
    ["Published loudness", `${published} (${loudness.normalized ? "normalised" : "as the source"})`],
  ];
}

function details(video: Video, playback: Playback): HTMLElement {
  const media = video.media;
  const renditions = playback.qualities ?? [];
  const rows: [string, string][] = [
    ["Duration", formatDuration(playback.durationSeconds || media?.durationSeconds || 0)],
    ["Resolution", media ? `${media.width}×${media.height}` : "—"],
    ["Frame rate", media?.frameRate ? `${Math.round(media.frameRate * 100) / 100} fps` : "—"],
    ["Video codec", media?.videoCodec || "—"],
    ["Audio codec", media?.hasAudio ? media.audioCodec : "None"],
    ["Qualities", renditions.map((r) => `${r.name} (${formatBitrate(Number(r.bitrate))})`).join(", ") || "—"],
    ["Views", formatCount(Number(video.viewCount), "view", "views")],
    ["Source size", media?.sizeBytes ? formatBytes(Number(media.sizeBytes)) : "—"],
    ...loudnessRows(video.loudness),
  ];
  return h(
    "dl",
    { class: "details" },
    rows.flatMap(([term, value]) => [h("dt", null, term), h("dd", null, value)]),
  );
}
