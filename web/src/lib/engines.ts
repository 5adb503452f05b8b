// Playback engines behind one small interface: hls.js for HLS, Shaka Player for DASH, or the browser's own
// HLS (Safari, iOS) where Media Source Extensions are missing. The players load only when a video plays.

import type { Rendition } from "./types";

export type StreamFormat = "hls" | "dash";

export interface Level {
  id: number;
  width: number;
  height: number;
  bitrate: number;
  label: string;
}

export interface TextTrackChoice {
  id: number;
  /** BCP 47, as the manifest lists it. */
  language: string;
  label: string;
}

export interface AudioTrackChoice {
  id: number;
  /** BCP 47, as the manifest lists it. */
  language: string;
  label: string;
}

export interface Engine {
  readonly name: string;
  /** The renditions a person can pick, highest first. */
  levels(): Level[];
  /** The picked level's id, or -1 when the player adapts by itself. */
  selected(): number;
  /** What is on screen now, when the engine knows. */
  playing(): Level | null;
  select(id: number): void;
  /** The caption tracks a person can pick, in the manifest's order. */
  textTracks(): TextTrackChoice[];
  /** The shown caption track's id, or -1 when captions are off. */
  selectedText(): number;
  selectText(id: number): void;
  /** The audio tracks a person can pick (languages, commentary, surround), in the manifest's order. */
  audioTracks(): AudioTrackChoice[];
  /** The playing audio track's id, or -1 before one plays. */
  selectedAudio(): number;
  selectAudio(id: number): void;
  destroy(): Promise<void>;
}

export interface EngineEvents {
  /** Levels were found, or a switch happened. */
  onChange: () => void;
  /** Playback cannot go on; the words are for people. */
  onError: (message: string) => void;
}

/** `1080p` for a rung the platform made, else the height: labels match the names used everywhere else. */
function labelFor(height: number, renditions: Rendition[]): string {
  return renditions.find((rendition) => rendition.height === height)?.name ?? `${height}p`;
}

export async function createEngine(
  format: StreamFormat,
  video: HTMLVideoElement,
  url: string,
  renditions: Rendition[],
  events: EngineEvents,
): Promise<Engine> {
  if (format === "dash") return createShakaEngine(video, url, renditions, events);
  const { default: Hls } = await import("hls.js");
  if (Hls.isSupported()) return createHlsEngine(Hls, video, url, renditions, events);
  if (video.canPlayType("application/vnd.apple.mpegurl")) return createNativeEngine(video, url);
  throw new Error("This browser cannot play HLS video.");
}

type HlsClass = typeof import("hls.js").default;

function createHlsEngine(
  Hls: HlsClass,
  video: HTMLVideoElement,
  url: string,
  renditions: Rendition[],
  events: EngineEvents,
): Engine {
  const hls = new Hls({ capLevelToPlayerSize: false });
  let manual = -1;
  let recoveredMediaError = false;
  hls.on(Hls.Events.MANIFEST_PARSED, events.onChange);
  hls.on(Hls.Events.LEVEL_SWITCHED, events.onChange);
  hls.on(Hls.Events.SUBTITLE_TRACKS_UPDATED, events.onChange);
  hls.on(Hls.Events.SUBTITLE_TRACK_SWITCH, events.onChange);
  hls.on(Hls.Events.AUDIO_TRACKS_UPDATED, events.onChange);
  hls.on(Hls.Events.AUDIO_TRACK_SWITCHED, events.onChange);
  hls.on(Hls.Events.ERROR, (_event, data) => {
    if (!data.fatal) return;
    if (data.type === Hls.ErrorTypes.MEDIA_ERROR && !recoveredMediaError) {
      // One decode hiccup is worth a recovery attempt before giving up.
      recoveredMediaError = true;
      hls.recoverMediaError();
      return;
    }
    const status = data.response?.code ? ` (HTTP ${data.response.code})` : "";
    events.onError(`Playback stopped: ${data.details}${status}.`);
  });
  hls.loadSource(url);
  hls.attachMedia(video);
  const levels = (): Level[] =>
    hls.levels
      .map((level, id) => ({
        id,
        width: level.width,
        height: level.height,
        bitrate: level.bitrate,
        label: labelFor(level.height, renditions),
      }))
      .sort((a, b) => b.height - a.height || b.bitrate - a.bitrate);
  return {
    name: "hls.js",
    levels,
    selected: () => manual,
    playing: () => levels().find((level) => level.id === hls.currentLevel) ?? null,
    select(id) {
      manual = id;
      // currentLevel switches now (dropping the buffer); -1 hands the choice back to the adaptive logic.
      hls.currentLevel = id;
      events.onChange();
    },
    textTracks: () =>
      hls.subtitleTracks.map((track, id) => ({
        id,
        language: track.lang ?? "",
        label: track.name || track.lang || `Captions ${id + 1}`,
      })),
    selectedText: () => (hls.subtitleDisplay ? hls.subtitleTrack : -1),
    selectText(id) {
      hls.subtitleTrack = id;
      hls.subtitleDisplay = id >= 0;
      events.onChange();
    },
    audioTracks: () =>
      hls.audioTracks.map((track, id) => ({
        id,
        language: track.lang ?? "",
        label: track.name || track.lang || `Audio ${id + 1}`,
      })),
    selectedAudio: () => hls.audioTrack,
    selectAudio(id) {
      // hls.js fetches the chosen track from the playing position on.
      hls.audioTrack = id;
      events.onChange();
    },
    async destroy() {
      hls.destroy();
    },
  };
}

async function createShakaEngine(
  video: HTMLVideoElement,
  url: string,
  renditions: Rendition[],
  events: EngineEvents,
): Promise<Engine> {
  const { default: shaka } = await import("shaka-player");
  shaka.polyfill.installAll();
  if (!shaka.Player.isBrowserSupported()) throw new Error("This browser cannot play DASH video.");
  const player = new shaka.Player();
  await player.attach(video);
  player.addEventListener("error", (event) => {
    const detail = (event as unknown as { detail?: { code?: number } }).detail;
    events.onError(`Playback stopped: Shaka Player error ${detail?.code ?? "unknown"}.`);
  });
  for (const name of ["trackschanged", "variantchanged", "adaptation", "textchanged"])
    player.addEventListener(name, events.onChange);
  let manual = -1;
  const tracks = (): ReturnType<typeof player.getVideoTracks> =>
    player.getVideoTracks().sort((a, b) => (b.height ?? 0) - (a.height ?? 0) || b.bandwidth - a.bandwidth);
  const levels = (): Level[] =>
    tracks().map((track, id) => ({
      id,
      width: track.width ?? 0,
      height: track.height ?? 0,
      bitrate: track.bandwidth,
      label: labelFor(track.height ?? 0, renditions),
    }));
  try {
    await player.load(url);
  } catch (error) {
    await player.destroy();
    const code = (error as { code?: number }).code;
    throw new Error(`The DASH manifest could not be loaded (Shaka Player error ${code ?? "unknown"}).`);
  }
  events.onChange();
  return {
    name: "Shaka Player",
    levels,
    selected: () => manual,
    playing() {
      const active = tracks().findIndex((track) => track.active);
      return levels()[active] ?? null;
    },
    select(id) {
      manual = id;
      const track = tracks()[id];
      player.configure({ abr: { enabled: id < 0 || !track } });
      if (track) player.selectVideoTrack(track, true);
      events.onChange();
    },
    textTracks: () =>
      player.getTextTracks().map((track) => ({
        id: track.id,
        language: track.language,
        label: track.label || track.language || `Captions ${track.id}`,
      })),
    selectedText: () => player.getTextTracks().find((track) => track.active)?.id ?? -1,
    selectText(id) {
      // No track (Off) unloads the shown one.
      player.selectTextTrack(player.getTextTracks().find((track) => track.id === id) ?? null);
      events.onChange();
    },
    // Tracks by their place in the list: a Shaka audio track may have no id.
    audioTracks: () =>
      player.getAudioTracks().map((track, id) => ({
        id,
        language: track.language,
        label: track.label || track.language || `Audio ${id + 1}`,
      })),
    selectedAudio: () => player.getAudioTracks().findIndex((track) => track.active),
    selectAudio(id) {
      // By the track, not by language alone: a stereo and a 5.1 rendition may share one.
      const track = player.getAudioTracks()[id];
      if (track) player.selectAudioTrack(track);
      events.onChange();
    },
    async destroy() {
      await player.destroy();
    },
  };
}

function createNativeEngine(video: HTMLVideoElement, url: string): Engine {
  video.src = url;
  return {
    name: "the browser's HLS player",
    levels: () => [],
    selected: () => -1,
    playing: () => null,
    select: () => undefined,
    // The browser's own player shows its caption menu in its native controls.
    textTracks: () => [],
    selectedText: () => -1,
    selectText: () => undefined,
    audioTracks: () => [],
    selectedAudio: () => -1,
    selectAudio: () => undefined,
    async destroy() {
      video.removeAttribute("src");
      video.load();
    },
  };
}
