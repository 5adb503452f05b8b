// A transcode followed live from the job's watch stream, with Retry when it failed.

import { describeError, get } from "../lib/api";
import { announce, h } from "../lib/dom";
import { formatDateTime, sentence } from "../lib/format";
import { cancelJob, describeStatus, retryJob, watchJob } from "../lib/jobs";
import { navigate, type ViewContext, type ViewResult } from "../lib/router";
import { FINAL_JOB_STATUSES, type Job } from "../lib/types";
import { messageArea, whileBusy } from "../ui/forms";
import { jobBadge } from "../ui/status";

export async function jobView({ params, signal, state }: ViewContext): Promise<ViewResult> {
  const jobId = params.id ?? "";
  const title = (state as { title?: string } | null)?.title;
  let job = await get<Job>(`/v1/jobs/${encodeURIComponent(jobId)}`, undefined, signal);

  const statusLine = h("p", { class: "job-status", role: "status" });
  const percent = h("span", { id: "job-progress-label", class: "progress-label" });
  const bar = h("progress", { class: "progress", max: 100, "aria-labelledby": "job-progress-label" });
  const connection = h("p", { class: "hint", role: "status" });
  const failure = h("div", { class: "notice notice-error", role: "alert", hidden: true });
  const messages = messageArea();
  const actions = h("div", { class: "actions" });
  const details = h("dl", { class: "details" });
  const root = h(
    "section",
    { class: "panel job", "data-job-id": jobId },
    h("h1", null, title ? `Transcode of “${title}”` : "Transcode job"),
    statusLine,
    h("div", { class: "progress-row" }, bar, percent),
    connection,
    failure,
    messages.element,
    actions,
    details,
  );

  const retry = h("button", { type: "button", class: "button" }, "Retry");
  retry.addEventListener("click", () =>
    whileBusy(retry, async () => {
      try {
        const next = await retryJob(job);
        navigate(`/jobs/${next.id}`, { replace: true, state: { title } });
      } catch (error) {
        messages.error(describeError(error));
      }
    }),
  );
  const cancel = h("button", { type: "button", class: "button button-secondary" }, "Cancel job");
  cancel.addEventListener("click", () =>
    whileBusy(cancel, async () => {
      try {
        show(await cancelJob(job.id));
      } catch (error) {
        messages.error(describeError(error));
      }
    }),
  );
  const watch = h("a", { class: "button", href: `/watch/${encodeURIComponent(job.videoId)}` }, "Watch now");
  const library = h("a", { class: "button button-secondary", href: "/my" }, "My videos");

  function show(next: Job): void {
    const statusChanged = next.status !== job.status;
    job = next;
    root.dataset.status = job.status;
    statusLine.replaceChildren(jobBadge(job.status), " ", describeStatus(job.status));
    bar.value = job.progress;
    percent.textContent = `${job.progress}%`;
    const failed = job.status === "FAILED";
    failure.hidden = !failed;
    failure.replaceChildren(
      h("strong", null, "The transcode failed. "),
      sentence(job.error?.message || "The platform did not say why"),
      h("br"),
      "Retry starts a new job for the same video.",
    );
    const final = FINAL_JOB_STATUSES.includes(job.status);
    actions.replaceChildren(
      ...(job.status === "COMPLETED" ? [watch] : []),
      ...(failed || job.status === "CANCELLED" ? [retry] : []),
      ...(final ? [] : [cancel]),
      library,
    );
    const rows: [string, string][] = [
      ["Job", job.id],
      ["Attempt", String(job.attempt)],
      ["Qualities asked for", job.outputFormats?.length ? job.outputFormats.join(", ") : "Every quality that fits"],
      [
        "Renditions",
        job.renditions?.length ? job.renditions.map((r) => `${r.name} (${r.width}×${r.height})`).join(", ") : "—",
      ],
      ["Created", formatDateTime(job.createTime)],
      ["Finished", final ? formatDateTime(job.endTime) : "—"],
    ];
    details.replaceChildren(...rows.flatMap(([term, value]) => [h("dt", null, term), h("dd", null, value)]));
    if (statusChanged) announce(`${describeStatus(job.status)}.`);
  }

  show(job);
  if (!FINAL_JOB_STATUSES.includes(job.status)) {
    watchJob(
      job.id,
      { onJob: show, onConnection: (problem) => (connection.textContent = problem ?? "") },
      signal,
    ).catch((error: unknown) => messages.error(describeError(error)));
  }
  return { title: "Transcode", content: root };
}
