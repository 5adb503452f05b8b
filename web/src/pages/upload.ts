// Upload: pick or drop a file, describe it, send it with a byte-accurate progress bar, then follow its job.
//
// The upload in progress lives outside the page, so leaving the page and coming back shows it still going.

import { describeError, post } from "../lib/api";
import { announce, h, icon, replace } from "../lib/dom";
import { formatBytes, titleFromFileName } from "../lib/format";
import { navigate, type ViewContext, type ViewResult } from "../lib/router";
import { FORMATS, type Video, type Visibility } from "../lib/types";
import { UploadCancelled, Uploader, type UploadState } from "../lib/upload";
import { choice, choices, field, messageArea } from "../ui/forms";
import { ICONS } from "../ui/icons";

type Stage = "sending" | "confirming" | "done" | "failed" | "cancelled";

interface ActiveUpload {
  fileName: string;
  uploader: Uploader;
  state: UploadState;
  stage: Stage;
  error: string;
  video: Video | null;
}

let active: ActiveUpload | null = null;
const listeners = new Set<() => void>();

function changed(): void {
  for (const listener of listeners) listener();
}

function warnBeforeLeaving(event: BeforeUnloadEvent): void {
  // Closing the tab would lose the upload; browsers show their own wording for this.
  event.preventDefault();
}

interface UploadRequest {
  file: File;
  title: string;
  description: string;
  visibility: Visibility;
  formats: string[];
  codecs: string[];
  protection: string;
}

async function startUpload(request: UploadRequest): Promise<void> {
  const upload: ActiveUpload = {
    fileName: request.file.name,
    uploader: new Uploader(request.file, (state) => {
      upload.state = state;
      changed();
    }),
    state: { phase: "preparing", sent: 0, total: request.file.size, piecesDone: 0, piecesTotal: 1, message: "" },
    stage: "sending",
    error: "",
    video: null,
  };
  active = upload;
  window.addEventListener("beforeunload", warnBeforeLeaving);
  changed();
  try {
    const s3Key = await upload.uploader.run();
    upload.stage = "confirming";
    changed();
    const body: Record<string, unknown> = {
      s3Key,
      title: request.title,
      description: request.description,
      visibility: request.visibility,
    };
    if (request.formats.length) body.formats = request.formats;
    if (request.codecs.length) body.codecs = request.codecs;
    if (request.protection) body.protection = request.protection;
    upload.video = await post<Video>("/v1/videos", body);
    upload.stage = "done";
    announce("Upload complete.");
  } catch (error) {
    upload.stage = error instanceof UploadCancelled ? "cancelled" : "failed";
    upload.error = upload.stage === "cancelled" ? "The upload was cancelled." : describeError(error);
  } finally {
    window.removeEventListener("beforeunload", warnBeforeLeaving);
  }
  changed();
  const job = upload.video?.latestJob;
  if (upload.stage === "done" && location.pathname === "/upload") {
    active = null;
    if (job?.jobId) navigate(`/jobs/${job.jobId}`, { state: { title: upload.video?.title } });
    else navigate("/my");
  }
}

export function uploadView({ signal }: ViewContext): ViewResult {
  const container = h("div");
  let panel: ProgressPanel | null = null;
  let form: UploadForm | null = null;
  const render = (): void => {
    if (active && (active.stage === "sending" || active.stage === "confirming" || active.stage === "done")) {
      // Updated in place: rebuilding on every progress event would steal focus from the buttons.
      if (panel?.upload !== active) {
        panel = progressPanel(active);
        replace(container, panel.element);
      }
      panel.update();
      return;
    }
    panel = null;
    // The same form comes back after a failure, with the file and the words already given.
    form ??= uploadForm();
    if (!container.contains(form.element)) replace(container, form.element);
    if (active) {
      form.error(active.error);
      active = null;
    }
  };
  listeners.add(render);
  signal.addEventListener("abort", () => listeners.delete(render));
  render();
  return {
    title: "Upload",
    content: h("section", { class: "panel" }, h("h1", null, "Upload a video"), container),
  };
}

interface UploadForm {
  element: HTMLFormElement;
  error(text: string): void;
}

function uploadForm(): UploadForm {
  const input = h("input", {
    type: "file",
    id: "upload-file",
    accept: "video/*",
    class: "visually-hidden",
    required: true,
  });
  const chosen = h("p", { class: "dropzone-file", "aria-live": "polite" }, "No file chosen.");
  const dropzone = h(
    "div",
    { class: "dropzone" },
    input,
    h(
      "label",
      { for: input.id, class: "dropzone-label" },
      icon(ICONS.upload),
      h("span", null, "Drag and drop a video here, or ", h("span", { class: "link-like" }, "choose a file")),
      h("span", { class: "hint" }, "MP4, MOV, MKV, WebM, AVI or MPEG\u2011TS."),
    ),
    chosen,
  );
  const title = h("input", { type: "text", name: "title", required: true, maxlength: 200 });
  const description = h("textarea", { name: "description", rows: 3, maxlength: 5000 });
  const visibility = choices("Visibility", [
    choice("radio", "visibility", "public", "Public: anyone can find and watch it", true),
    choice("radio", "visibility", "unlisted", "Unlisted: only people with the link"),
    choice("radio", "visibility", "private", "Private: only you"),
  ]);
  const qualities = choices(
    "Qualities",
    FORMATS.map((format) => choice("checkbox", "formats", format, format)),
    "Leave all unchecked for every quality up to the video's own resolution.",
  );
  const codecs = choices(
    "Extra codecs",
    [choice("checkbox", "codecs", "hevc", "HEVC (H.265)"), choice("checkbox", "codecs", "av1", "AV1")],
    "Every video gets H.264, which plays everywhere. Each extra codec adds a smaller ladder for players " +
      "that decode it, and takes longer to encode.",
  );
  const protection = choices(
    "Protection",
    [
      choice("radio", "protection", "", "None: plays in every player", true),
      choice("radio", "protection", "clearkey", "ClearKey: encrypted, played over DASH"),
      choice("radio", "protection", "aes-128", "AES-128: encrypted, played over HLS"),
    ],
    "Encrypted videos play only with a playback grant for them; their files alone do not decode.",
  );
  const advanced = h("details", { class: "advanced" }, h("summary", null, "Codecs and protection"), codecs, protection);
  const messages = messageArea();
  const submit = h("button", { type: "submit", class: "button" }, "Upload");
  const form = h(
    "form",
    { class: "stack" },
    dropzone,
    field("Title", title),
    field("Description", description),
    visibility,
    qualities,
    advanced,
    messages.element,
    submit,
  );

  const fileChosen = (): void => {
    const file = input.files?.[0];
    chosen.textContent = file ? `${file.name} · ${formatBytes(file.size)}` : "No file chosen.";
    if (file && !title.value.trim()) title.value = titleFromFileName(file.name);
  };
  input.addEventListener("change", fileChosen);
  dropzone.addEventListener("dragover", (event) => {
    event.preventDefault();
    dropzone.classList.add("dragging");
  });
  dropzone.addEventListener("dragleave", () => dropzone.classList.remove("dragging"));
  dropzone.addEventListener("drop", (event) => {
    event.preventDefault();
    dropzone.classList.remove("dragging");
    const files = event.dataTransfer?.files;
    if (files?.length) {
      input.files = files;
      fileChosen();
    }
  });

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    messages.clear();
    const file = input.files?.[0];
    if (!file) {
      messages.error("Choose a video file first.");
      return;
    }
    if (!title.value.trim()) {
      messages.error("Give the video a title.");
      title.focus();
      return;
    }
    const data = new FormData(form);
    void startUpload({
      file,
      title: title.value.trim(),
      description: description.value.trim(),
      visibility: (data.get("visibility") as Visibility | null) ?? "public",
      formats: data.getAll("formats").map(String),
      codecs: data.getAll("codecs").map(String),
      protection: String(data.get("protection") ?? ""),
    });
  });
  return { element: form, error: messages.error };
}

interface ProgressPanel {
  upload: ActiveUpload;
  element: HTMLElement;
  update(): void;
}

const PHASE_WORDS: Record<string, string> = {
  preparing: "Preparing…",
  sending: "Sending to storage…",
  retrying: "Retrying…",
  paused: "Paused",
  completing: "Finishing the upload…",
  done: "Sent.",
};

function progressPanel(upload: ActiveUpload): ProgressPanel {
  const headline = h("p", { class: "upload-headline", role: "status" });
  const label = h("p", { id: "upload-progress-label", class: "progress-label" });
  const bar = h("progress", { "aria-labelledby": "upload-progress-label", class: "progress" });
  const message = h("p", { class: "hint", role: "status" });
  const resume = h("button", { type: "button", class: "button", hidden: true }, "Resume upload");
  const cancel = h("button", { type: "button", class: "button button-secondary" }, "Cancel");
  const follow = h("a", { class: "button", href: "/my", hidden: true }, "Follow the transcode");
  const another = h("button", { type: "button", class: "button button-secondary", hidden: true }, "Upload another");
  resume.addEventListener("click", () => upload.uploader.resume());
  cancel.addEventListener("click", () => void upload.uploader.cancel());
  follow.addEventListener("click", () => (active = null));
  another.addEventListener("click", () => {
    active = null;
    changed();
  });
  const element = h(
    "div",
    { class: "stack upload-progress" },
    h("h2", null, upload.fileName),
    headline,
    bar,
    label,
    message,
    h("div", { class: "actions" }, resume, cancel, follow, another),
  );

  function update(): void {
    const { state, stage } = upload;
    const percent = state.total ? Math.floor((state.sent / state.total) * 100) : 100;
    let detail = `${formatBytes(state.sent)} of ${formatBytes(state.total)} · ${percent}%`;
    if (state.piecesTotal > 1) detail += ` · ${state.piecesDone} of ${state.piecesTotal} parts sent`;
    label.textContent = detail;
    bar.max = state.total || 1;
    bar.value = state.sent;
    let words = PHASE_WORDS[state.phase] ?? "";
    if (stage === "confirming") words = "Checking the video…";
    if (stage === "done") words = "Upload complete.";
    if (headline.textContent !== words) headline.textContent = words;
    if (message.textContent !== state.message) message.textContent = state.message;
    message.className = state.phase === "paused" ? "notice notice-error" : "hint";
    element.dataset.phase = state.phase;
    element.dataset.stage = stage;
    resume.hidden = state.phase !== "paused";
    cancel.hidden = stage !== "sending";
    const jobId = upload.video?.latestJob?.jobId;
    follow.hidden = stage !== "done";
    another.hidden = stage !== "done";
    follow.href = jobId ? `/jobs/${jobId}` : "/my";
    follow.textContent = jobId ? "Follow the transcode" : "Go to my videos";
  }

  return { upload, element, update };
}
