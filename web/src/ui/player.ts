// The video player: engine (hls.js or Shaka), controls that work by keyboard, audio, caption and quality menus, and
// storyboard thumbnails above the seek bar while scrubbing.

import { h, icon } from "../lib/dom";
import { createEngine, type Engine, type StreamFormat } from "../lib/engines";
import { formatDuration } from "../lib/format";
import { loadStoryboard, tileAt, type StoryboardTile } from "../lib/storyboard";
import type { Playback } from "../lib/types";
import { ICONS } from "./icons";
import { createAudioMenu } from "./audioMenu";
import { createCaptionMenu } from "./captionMenu";
import { createQualityMenu } from "./qualityMenu";

const KEY_SEEK_SECONDS = 5;
const PREVIEW_LINGER_MS = 900;

export interface Player {
  element: HTMLElement;
  format(): StreamFormat;
  /** Switches between HLS and DASH, keeping the position and play state. */
  useFormat(format: StreamFormat): Promise<void>;
}

export function createPlayer(playback: Playback, title: string, signal: AbortSignal): Player {
  let engine: Engine | null = null;
  let format: StreamFormat = "hls";
  let tiles: StoryboardTile[] = [];
  let scrubbing = false;
  let previewTimer = 0;

  const video = h("video", {
    class: "player-video",
    playsinline: true,
    preload: "metadata",
    poster: playback.thumbnailUrl || null,
    "aria-label": title,
  });
  const problem = h("p", { class: "player-problem", role: "alert", hidden: true });

  const playButton = h("button", { type: "button", class: "control", "aria-label": "Play" }, icon(ICONS.play));
  const elapsed = h("span", { class: "time", "aria-hidden": "true" }, "0:00");
  const total = h("span", { class: "time", "aria-hidden": "true" }, formatDuration(playback.durationSeconds));
  const seek = h("input", {
    type: "range",
    class: "seek",
    min: 0,
    max: playback.durationSeconds || 0,
    step: "any",
    value: 0,
    "aria-label": "Seek",
  });
  const sprite = h("div", { class: "preview-sprite" });
  const previewTime = h("span", { class: "preview-time" }, "0:00");
  const preview = h("div", { class: "scrub-preview", "aria-hidden": "true", hidden: true }, sprite, previewTime);
  const seekArea = h("div", { class: "seek-area" }, preview, seek);
  const muteButton = h("button", { type: "button", class: "control", "aria-label": "Mute" }, icon(ICONS.volume));
  const volume = h("input", {
    type: "range",
    class: "volume",
    min: 0,
    max: 1,
    step: 0.05,
    value: 1,
    "aria-label": "Volume",
  });
  const quality = createQualityMenu(() => engine, signal);
  const captions = createCaptionMenu(() => engine, signal);
  const audio = createAudioMenu(() => engine, signal);
  const fullscreenButton = h(
    "button",
    { type: "button", class: "control", "aria-label": "Full screen", hidden: !document.fullscreenEnabled },
    icon(ICONS.fullscreen),
  );
  const controls = h(
    "div",
    { class: "controls" },
    playButton,
    elapsed,
    seekArea,
    total,
    h("div", { class: "volume-group" }, muteButton, volume),
    audio.element,
    captions.element,
    quality.element,
    fullscreenButton,
  );
  const element = h(
    "div",
    { class: "player", role: "region", "aria-label": "Video player", "data-state": "loading" },
    video,
    problem,
    controls,
  );

  function duration(): number {
    return Number.isFinite(video.duration) && video.duration > 0 ? video.duration : playback.durationSeconds;
  }

  function showProblem(message: string): void {
    problem.textContent = message;
    problem.hidden = false;
    element.dataset.state = "error";
  }

  function setIcon(button: HTMLButtonElement, path: string, label: string): void {
    button.replaceChildren(icon(path));
    button.setAttribute("aria-label", label);
  }

  function syncPlayState(): void {
    setIcon(playButton, video.paused ? ICONS.play : ICONS.pause, video.paused ? "Play" : "Pause");
    if (element.dataset.state !== "error") element.dataset.state = video.paused ? "paused" : "playing";
  }

  function syncTime(): void {
    const length = duration();
    seek.max = String(length);
    total.textContent = formatDuration(length);
    if (!scrubbing) seek.value = String(video.currentTime);
    elapsed.textContent = formatDuration(video.currentTime);
    seek.setAttribute("aria-valuetext", `${formatDuration(Number(seek.value))} of ${formatDuration(length)}`);
  }

  function syncVolume(): void {
    const silent = video.muted || video.volume === 0;
    setIcon(muteButton, silent ? ICONS.muted : ICONS.volume, silent ? "Unmute" : "Mute");
    volume.value = String(video.muted ? 0 : video.volume);
  }

  /** Shows the storyboard tile for `seconds` above the seek bar at `fraction` of its width. */
  function showPreview(seconds: number, fraction: number): void {
    previewTime.textContent = formatDuration(seconds);
    const tile = tileAt(tiles, seconds);
    sprite.hidden = !tile;
    if (tile) {
      Object.assign(sprite.style, {
        width: `${tile.width}px`,
        height: `${tile.height}px`,
        backgroundImage: `url("${tile.url}")`,
        backgroundPosition: `-${tile.x}px -${tile.y}px`,
      });
    }
    preview.hidden = false;
    const width = seekArea.clientWidth;
    const half = preview.offsetWidth / 2;
    const left = Math.min(Math.max(fraction * width, half), Math.max(width - half, half));
    preview.style.left = `${left}px`;
  }

  function hidePreview(): void {
    preview.hidden = true;
  }

  function lingerPreview(): void {
    window.clearTimeout(previewTimer);
    previewTimer = window.setTimeout(hidePreview, PREVIEW_LINGER_MS);
  }

  function seekTo(seconds: number): void {
    video.currentTime = Math.min(Math.max(seconds, 0), duration());
    syncTime();
  }

  async function togglePlay(): Promise<void> {
    if (video.paused) {
      try {
        await video.play();
      } catch (error) {
        // A browser that blocks playback says why; "AbortError" only means a newer load replaced this one.
        if ((error as DOMException).name !== "AbortError") showProblem(`The video could not start: ${String(error)}`);
      }
    } else {
      video.pause();
    }
  }

  function refreshMenus(): void {
    quality.refresh();
    captions.refresh();
    audio.refresh();
  }

  async function useFormat(next: StreamFormat): Promise<void> {
    const url = next === "dash" ? playback.dashUrl : playback.hlsUrl;
    const resumeAt = video.currentTime;
    const wasPlaying = !video.paused;
    await engine?.destroy();
    engine = null;
    format = next;
    problem.hidden = true;
    element.dataset.state = "loading";
    refreshMenus();
    try {
      engine = await createEngine(next, video, url, playback.qualities ?? [], {
        onChange: refreshMenus,
        onError: showProblem,
      });
    } catch (error) {
      showProblem(error instanceof Error ? error.message : String(error));
      return;
    }
    if (signal.aborted) {
      await engine.destroy();
      return;
    }
    element.dataset.engine = engine.name;
    refreshMenus();
    syncPlayState();
    if (resumeAt > 0) seekTo(resumeAt);
    if (wasPlaying) await togglePlay();
  }

  // Wiring.
  video.addEventListener("click", () => void togglePlay());
  playButton.addEventListener("click", () => void togglePlay());
  for (const name of ["play", "pause", "ended"]) video.addEventListener(name, syncPlayState);
  for (const name of ["timeupdate", "durationchange", "loadedmetadata", "seeked"])
    video.addEventListener(name, syncTime);
  video.addEventListener("volumechange", syncVolume);
  video.addEventListener("waiting", () => element.classList.add("buffering"));
  video.addEventListener("playing", () => element.classList.remove("buffering"));
  muteButton.addEventListener("click", () => (video.muted = !video.muted));
  volume.addEventListener("input", () => {
    video.volume = Number(volume.value);
    video.muted = video.volume === 0;
  });

  seek.addEventListener("pointerdown", () => (scrubbing = true));
  // On the document: a drag may end with the pointer far from the bar.
  document.addEventListener("pointerup", () => (scrubbing = false), { signal });
  seek.addEventListener("input", () => {
    const seconds = Number(seek.value);
    showPreview(seconds, seconds / (duration() || 1));
    seekTo(seconds);
  });
  seek.addEventListener("change", lingerPreview);
  seekArea.addEventListener("pointermove", (event) => {
    const box = seek.getBoundingClientRect();
    const fraction = Math.min(Math.max((event.clientX - box.left) / box.width, 0), 1);
    window.clearTimeout(previewTimer);
    showPreview(fraction * duration(), fraction);
  });
  seekArea.addEventListener("pointerleave", () => {
    if (!scrubbing) hidePreview();
  });
  seek.addEventListener("keydown", (event) => {
    // Fixed steps in seconds: the range's own step would be a fraction of the length, tiny on long videos.
    const steps: Record<string, number> = {
      ArrowLeft: -KEY_SEEK_SECONDS,
      ArrowDown: -KEY_SEEK_SECONDS,
      ArrowRight: KEY_SEEK_SECONDS,
      ArrowUp: KEY_SEEK_SECONDS,
      PageDown: -duration() / 10,
      PageUp: duration() / 10,
    };
    let target: number | null = null;
    if (event.key in steps) target = video.currentTime + (steps[event.key] ?? 0);
    else if (event.key === "Home") target = 0;
    else if (event.key === "End") target = duration();
    if (target === null) return;
    event.preventDefault();
    seekTo(target);
    showPreview(video.currentTime, video.currentTime / (duration() || 1));
    lingerPreview();
  });
  seek.addEventListener("blur", hidePreview);

  fullscreenButton.addEventListener("click", () => {
    if (document.fullscreenElement) void document.exitFullscreen();
    else void element.requestFullscreen();
  });
  document.addEventListener(
    "fullscreenchange",
    () => {
      const on = document.fullscreenElement === element;
      setIcon(fullscreenButton, on ? ICONS.exitFullscreen : ICONS.fullscreen, on ? "Exit full screen" : "Full screen");
    },
    { signal },
  );

  signal.addEventListener("abort", () => {
    window.clearTimeout(previewTimer);
    void engine?.destroy();
  });

  if (playback.storyboardUrl) {
    loadStoryboard(playback.storyboardUrl, signal)
      .then((loaded) => (tiles = loaded))
      .catch(() => undefined); // Without a storyboard the preview shows the time alone.
  }
  syncVolume();
  return { element, format: () => format, useFormat };
}
