// Administration: every user's jobs, figures, restart failed jobs, clean up old ones.

import { del, describeError, get, post } from "../lib/api";
import { h } from "../lib/dom";
import { formatBytes, formatCount, formatDateTime, formatDuration } from "../lib/format";
import { navigate, type ViewContext, type ViewResult } from "../lib/router";
import type { JobInsights, JobList, JobStats } from "../lib/types";
import { lineChart, stackedColumnChart } from "../ui/charts";
import { field, messageArea, whileBusy } from "../ui/forms";
import { pager } from "../ui/pager";
import { jobBadge } from "../ui/status";

const PAGE_SIZE = 20;
const STATES = ["PENDING", "DOWNLOADING", "PROCESSING", "UPLOADING", "COMPLETED", "FAILED", "CANCELLED"];
const DEFAULT_CLEANUP_DAYS = 30;
const INSIGHT_HOURS = 24;
const STATE_COLORS: Record<string, string> = {
  PENDING: "#8a8f98",
  DOWNLOADING: "#4c8bf5",
  PROCESSING: "#f5a524",
  UPLOADING: "#7c5cff",
  COMPLETED: "#2e9e5b",
  FAILED: "#d64545",
  CANCELLED: "#5f6670",
};
// The stages a job's time is split into, named as people say them.
const STAGES: Record<string, string> = {
  PENDING: "Waiting for a worker",
  DOWNLOADING: "Download",
  PROCESSING: "Encode and package",
  UPLOADING: "Upload",
};

export async function adminView({ query, signal }: ViewContext): Promise<ViewResult> {
  const page = Math.max(1, Number(query.get("page")) || 1);
  const state = STATES.includes(query.get("state") ?? "") ? (query.get("state") ?? "") : "";
  const [stats, jobs, insights] = await Promise.all([
    get<JobStats>("/api/jobs/admin/stats", undefined, signal),
    get<JobList>("/v1/admin/jobs", { page, limit: PAGE_SIZE, filter: state ? `state=${state}` : undefined }, signal),
    get<JobInsights>("/v1/admin/insights", { hours: INSIGHT_HOURS }, signal),
  ]);
  const messages = messageArea();
  const hrefFor = (target: number, filter = state): string => {
    const params = new URLSearchParams();
    if (filter) params.set("state", filter);
    if (target > 1) params.set("page", String(target));
    return params.size ? `/admin?${params.toString()}` : "/admin";
  };
  return {
    title: "Administration",
    content: h(
      "section",
      { class: "admin" },
      h("h1", null, "Administration"),
      statsPanel(stats),
      activityPanel(insights),
      actionsPanel(messages),
      messages.element,
      jobsPanel(jobs, state, hrefFor),
      pager(page, Math.max(1, Math.ceil(jobs.totalSize / PAGE_SIZE)), hrefFor),
    ),
  };
}

function statsPanel(stats: JobStats): HTMLElement {
  const figure = (label: string, value: string): HTMLElement =>
    h("div", { class: "stat" }, h("dt", null, label), h("dd", null, value));
  const byState = stats.jobsByState ?? {};
  return h(
    "section",
    { "aria-labelledby": "stats-heading" },
    h("h2", { id: "stats-heading" }, "Figures"),
    h(
      "dl",
      { class: "stats" },
      figure("Jobs", formatCount(stats.totalJobs, "job", "jobs")),
      figure("In the queue", String(stats.queueDepth)),
      figure("Average processing", formatDuration(stats.averageProcessingSeconds)),
      figure("Storage", formatBytes(Number(stats.storageBytes))),
      ...STATES.filter((s) => byState[s]).map((s) =>
        figure(s.charAt(0) + s.slice(1).toLowerCase(), String(byState[s])),
      ),
    ),
  );
}

function clock(iso: string): string {
  return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function activityPanel(insights: JobInsights): HTMLElement {
  const hours = insights.jobsPerHour ?? [];
  const stageHours = insights.stageSeconds ?? [];
  const samples = insights.queueDepth ?? [];
  const stages = Object.keys(STAGES);
  const none = (text: string): HTMLElement => h("p", { class: "empty" }, text);
  return h(
    "section",
    { "aria-labelledby": "activity-heading" },
    h("h2", { id: "activity-heading" }, `Activity (last ${INSIGHT_HOURS} hours)`),
    h(
      "div",
      { class: "charts" },
      hours.length
        ? stackedColumnChart(
            "Jobs per hour, by state",
            STATES.map((s) => ({ name: s.charAt(0) + s.slice(1).toLowerCase(), color: STATE_COLORS[s] ?? "gray" })),
            hours.map((hour) => ({
              label: clock(hour.startTime),
              values: STATES.map((s) => hour.jobsByState?.[s] ?? 0),
            })),
          )
        : none("No jobs were created in this time."),
      stageHours.length
        ? stackedColumnChart(
            "Average time per stage, by the hour jobs finished",
            stages.map((s) => ({ name: STAGES[s] ?? s, color: STATE_COLORS[s] ?? "gray" })),
            stageHours.map((hour) => ({
              label: clock(hour.startTime),
              values: stages.map((s) => hour.averageSeconds?.[s] ?? 0),
            })),
            " s",
          )
        : none("No job finished in this time."),
      samples.length > 1
        ? lineChart(
            "Jobs in the queue",
            samples.map((sample) => ({ label: clock(sample.time), value: sample.depth })),
            STATE_COLORS.DOWNLOADING ?? "gray",
          )
        : none("The queue has not been sampled yet."),
    ),
  );
}

function actionsPanel(messages: ReturnType<typeof messageArea>): HTMLElement {
  const restart = h("button", { type: "button", class: "button" }, "Restart failed jobs");
  restart.addEventListener("click", () =>
    whileBusy(restart, async () => {
      try {
        const result = await post<{ jobIds?: string[] }>("/api/jobs/admin/restart-failed", {});
        const count = result.jobIds?.length ?? 0;
        messages.info(
          count ? `Restarted ${formatCount(count, "job", "jobs")}.` : "There were no failed jobs to restart.",
        );
      } catch (error) {
        messages.error(describeError(error));
      }
    }),
  );
  const days = h("input", {
    type: "number",
    name: "days",
    min: 1,
    value: DEFAULT_CLEANUP_DAYS,
    required: true,
    inputmode: "numeric",
  });
  const cleanButton = h("button", { type: "submit", class: "button button-danger" }, "Clean up");
  const cleanForm = h(
    "form",
    { class: "inline-form", "aria-label": "Clean up old jobs" },
    field("Delete finished jobs older than (days)", days),
    cleanButton,
  );
  cleanForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const value = Math.floor(Number(days.value));
    if (!(value >= 1)) {
      messages.error("Enter a number of days, 1 or more.");
      return;
    }
    void whileBusy(cleanButton, async () => {
      try {
        const result = await del<{ deletedJobs: number; freedBytes: string }>("/api/jobs/admin/cleanup-old", {
          days: value,
        });
        messages.info(
          `Deleted ${formatCount(result.deletedJobs, "job", "jobs")} and freed ${formatBytes(Number(result.freedBytes))}.`,
        );
      } catch (error) {
        messages.error(describeError(error));
      }
    });
  });
  return h(
    "section",
    { "aria-labelledby": "actions-heading" },
    h("h2", { id: "actions-heading" }, "Maintenance"),
    h("div", { class: "admin-actions" }, restart, cleanForm),
  );
}

function jobsPanel(list: JobList, state: string, hrefFor: (page: number, filter?: string) => string): HTMLElement {
  const filter = h(
    "select",
    { name: "state" },
    h("option", { value: "", selected: !state }, "All states"),
    STATES.map((s) => h("option", { value: s, selected: s === state }, s.charAt(0) + s.slice(1).toLowerCase())),
  );
  filter.addEventListener("change", () => navigate(hrefFor(1, filter.value)));
  const jobs = list.jobs ?? [];
  const table = h(
    "table",
    { class: "jobs-table" },
    h("caption", { class: "visually-hidden" }, "Every user's jobs, newest first"),
    h(
      "thead",
      null,
      h(
        "tr",
        null,
        ["Job", "Video", "Owner", "State", "Progress", "Attempt", "Created", "Error"].map((c) =>
          h("th", { scope: "col" }, c),
        ),
      ),
    ),
    h(
      "tbody",
      null,
      jobs.map((job) =>
        h(
          "tr",
          { "data-job-id": job.id },
          h("td", null, h("a", { href: `/jobs/${job.id}` }, h("code", null, job.id.slice(0, 8)))),
          h("td", null, h("a", { href: `/watch/${job.videoId}` }, h("code", null, job.videoId.slice(0, 8)))),
          h("td", null, h("code", null, job.ownerId.slice(0, 8))),
          h("td", null, jobBadge(job.status)),
          h("td", null, `${job.progress}%`),
          h("td", null, String(job.attempt)),
          h("td", null, formatDateTime(job.createTime)),
          h("td", { class: "error-text" }, job.error?.message ?? ""),
        ),
      ),
    ),
  );
  return h(
    "section",
    { "aria-labelledby": "jobs-heading" },
    h(
      "div",
      { class: "page-head" },
      h("h2", { id: "jobs-heading" }, `All jobs (${list.totalSize})`),
      field("Show", filter),
    ),
    jobs.length
      ? h("div", { class: "table-scroll", tabindex: "0", role: "group", "aria-labelledby": "jobs-heading" }, table)
      : h("p", { class: "empty" }, "No jobs."),
  );
}
