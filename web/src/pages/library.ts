// My videos: every video of the signed-in person, with edit, visibility, delete and job follow-up.

import { del, describeError, get, patch } from "../lib/api";
import { announce, h, uid } from "../lib/dom";
import { formatAge, formatCount, formatDuration, sentence } from "../lib/format";
import { retryJob } from "../lib/jobs";
import { navigate, type ViewContext, type ViewResult } from "../lib/router";
import type { Job, Video, VideoList, Visibility } from "../lib/types";
import { field, messageArea, whileBusy } from "../ui/forms";
import { pager } from "../ui/pager";
import { statusBadge } from "../ui/status";
import { animateOnHover, thumbnail } from "../ui/videoCard";

const PAGE_SIZE = 20;
const VISIBILITIES: [Visibility, string][] = [
  ["public", "Public"],
  ["unlisted", "Unlisted"],
  ["private", "Private"],
];

export async function libraryView({ query, signal }: ViewContext): Promise<ViewResult> {
  const page = Math.max(1, Number(query.get("page")) || 1);
  const list = await get<VideoList>("/api/gallery/my-videos", { page, limit: PAGE_SIZE }, signal);
  const videos = list.videos ?? [];
  const rows = h("ul", { class: "library", "aria-label": "My videos" }, videos.map(libraryRow));
  const empty = h(
    "p",
    { class: "empty" },
    "You have not uploaded anything yet. ",
    h("a", { href: "/upload" }, "Upload a video"),
  );
  return {
    title: "My videos",
    content: h(
      "section",
      null,
      h(
        "div",
        { class: "page-head" },
        h("h1", null, "My videos"),
        h("a", { class: "button", href: "/upload" }, "Upload"),
      ),
      videos.length ? rows : empty,
      pager(page, list.pagination?.totalPages ?? 1, (target) => (target > 1 ? `/my?page=${target}` : "/my")),
    ),
  };
}

function libraryRow(initial: Video): HTMLElement {
  let video = initial;
  const messages = messageArea();
  const heading = h("h2", { class: "row-title" });
  const badges = h("p", { class: "row-badges" });
  const meta = h("p", { class: "hint" });
  const jobLine = h("div", { class: "row-job" });
  const watchHref = `/watch/${encodeURIComponent(video.id)}`;
  const picture = h(
    "a",
    { href: watchHref, class: "row-thumb", tabindex: "-1", "aria-hidden": "true" },
    thumbnail(video),
  );
  animateOnHover(picture, video);

  const visibility = h(
    "select",
    { name: "visibility" },
    VISIBILITIES.map(([value, label]) => h("option", { value, selected: value === video.visibility }, label)),
  );
  const editButton = h(
    "button",
    { type: "button", class: "button button-secondary", "aria-expanded": "false" },
    "Edit",
  );
  const deleteButton = h("button", { type: "button", class: "button button-danger" }, "Delete");
  const editor = h("div", { class: "row-editor", hidden: true });
  const confirmer = h("div", { class: "row-confirm", hidden: true });
  const row = h(
    "li",
    { class: "row", "data-video-id": video.id },
    picture,
    h(
      "div",
      { class: "row-body" },
      heading,
      badges,
      meta,
      jobLine,
      h("div", { class: "row-actions" }, field("Visibility", visibility), editButton, deleteButton),
      editor,
      confirmer,
      messages.element,
    ),
  );
  editButton.setAttribute("aria-controls", (editor.id = uid("editor")));

  function paint(): void {
    heading.replaceChildren(h("a", { href: watchHref }, video.title));
    badges.replaceChildren(statusBadge(video));
    const duration = video.media?.durationSeconds ? formatDuration(video.media.durationSeconds) : "";
    meta.textContent = [duration, formatCount(Number(video.viewCount), "view", "views"), formatAge(video.createTime)]
      .filter(Boolean)
      .join(" · ");
    jobLine.replaceChildren(...jobSummary(video, messages));
    visibility.value = video.visibility;
  }

  async function save(changes: Partial<Pick<Video, "title" | "description" | "visibility">>): Promise<boolean> {
    messages.clear();
    try {
      const body = { title: video.title, description: video.description, visibility: video.visibility, ...changes };
      video = { ...video, ...(await patch<Video>(`/v1/videos/${encodeURIComponent(video.id)}`, body)) };
      paint();
      return true;
    } catch (error) {
      messages.error(describeError(error));
      paint();
      return false;
    }
  }

  visibility.addEventListener("change", async () => {
    visibility.disabled = true;
    const label = visibility.selectedOptions[0]?.textContent ?? visibility.value;
    if (await save({ visibility: visibility.value as Visibility })) messages.info(`Visibility is now ${label}.`);
    visibility.disabled = false;
  });

  editButton.addEventListener("click", () => {
    if (!editor.hidden) {
      closeEditor();
      return;
    }
    const title = h("input", { type: "text", name: "title", value: video.title, required: true, maxlength: 200 });
    const description = h("textarea", { name: "description", rows: 3, maxlength: 5000 }, video.description);
    const saveButton = h("button", { type: "submit", class: "button" }, "Save");
    const cancel = h("button", { type: "button", class: "button button-secondary" }, "Cancel");
    const form = h(
      "form",
      { class: "stack", "aria-label": `Edit ${video.title}` },
      field("Title", title),
      field("Description", description),
      h("div", { class: "actions" }, saveButton, cancel),
    );
    cancel.addEventListener("click", closeEditor);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (!title.value.trim()) {
        messages.error("The title cannot be empty.");
        return;
      }
      void whileBusy(saveButton, async () => {
        if (await save({ title: title.value.trim(), description: description.value.trim() })) {
          closeEditor();
          messages.info("Saved.");
        }
      });
    });
    editor.replaceChildren(form);
    editor.hidden = false;
    editButton.setAttribute("aria-expanded", "true");
    title.focus();
  });

  function closeEditor(): void {
    editor.hidden = true;
    editor.replaceChildren();
    editButton.setAttribute("aria-expanded", "false");
    editButton.focus();
  }

  deleteButton.addEventListener("click", () => {
    const confirm = h("button", { type: "button", class: "button button-danger" }, "Yes, delete it");
    const keep = h("button", { type: "button", class: "button button-secondary" }, "Keep it");
    confirmer.replaceChildren(
      h("p", null, `Delete “${video.title}” and everything made from it? This cannot be undone.`),
      h("div", { class: "actions" }, confirm, keep),
    );
    confirmer.hidden = false;
    keep.addEventListener("click", () => {
      confirmer.hidden = true;
      deleteButton.focus();
    });
    confirm.addEventListener("click", () =>
      whileBusy(confirm, async () => {
        try {
          await del(`/v1/videos/${encodeURIComponent(video.id)}`);
          const list = row.parentElement;
          const next = (row.nextElementSibling ?? row.previousElementSibling)?.querySelector<HTMLElement>("a, button");
          row.remove();
          announce(`Deleted “${video.title}”.`);
          if (next) next.focus();
          else if (list && !list.children.length) navigate("/my", { replace: true });
        } catch (error) {
          messages.error(describeError(error));
        }
      }),
    );
    confirm.focus();
  });

  paint();
  return row;
}

function jobSummary(video: Video, messages: ReturnType<typeof messageArea>): (Node | string)[] {
  const job = video.latestJob;
  if (!job?.jobId) return [];
  const link = h("a", { href: `/jobs/${encodeURIComponent(job.jobId)}` }, "Job details");
  if (video.status === "processing") return [h("span", null, `Transcoding: ${job.progress}%. `), link];
  if (job.state !== "FAILED" && video.status !== "failed") return [];
  const retry = h("button", { type: "button", class: "button button-small" }, "Retry");
  retry.addEventListener("click", () =>
    whileBusy(retry, async () => {
      try {
        // Same formats as the job that failed: the snapshot does not carry them, the job does.
        const failed = await get<Job>(`/v1/jobs/${encodeURIComponent(job.jobId)}`);
        const next = await retryJob(failed);
        navigate(`/jobs/${next.id}`, { state: { title: video.title } });
      } catch (error) {
        messages.error(describeError(error));
      }
    }),
  );
  return [
    h(
      "span",
      { class: "error-text" },
      `The last transcode failed: ${sentence(job.errorMessage || "no reason given")} `,
    ),
    retry,
    " ",
    link,
  ];
}
