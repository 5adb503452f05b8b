// The gallery: public videos (and the viewer's own), searchable and paged.

import { get } from "../lib/api";
import { h } from "../lib/dom";
import { navigate, type ViewContext, type ViewResult } from "../lib/router";
import type { VideoList } from "../lib/types";
import { pager } from "../ui/pager";
import { videoCard } from "../ui/videoCard";

const PAGE_SIZE = 12;

export async function galleryView({ query, signal }: ViewContext): Promise<ViewResult> {
  const search = query.get("q")?.trim() ?? "";
  const page = Math.max(1, Number(query.get("page")) || 1);
  const list = await get<VideoList>("/v1/videos", { search, page, limit: PAGE_SIZE }, signal);
  const videos = list.videos ?? [];
  const totalPages = list.pagination?.totalPages ?? 1;

  const input = h("input", { type: "search", name: "q", id: "gallery-search", value: search, autocomplete: "off" });
  const form = h(
    "form",
    { class: "search", role: "search", action: "/", method: "get" },
    h("label", { for: input.id, class: "visually-hidden" }, "Search videos"),
    input,
    h("button", { type: "submit", class: "button" }, "Search"),
  );
  const hrefFor = (target: number): string => {
    const params = new URLSearchParams();
    if (search) params.set("q", search);
    if (target > 1) params.set("page", String(target));
    const text = params.toString();
    return text ? `/?${text}` : "/";
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const params = new URLSearchParams();
    if (input.value.trim()) params.set("q", input.value.trim());
    // A new search starts at page one, with the search in the URL so Back and sharing work.
    navigate(params.size ? `/?${params.toString()}` : "/");
  });

  const total = list.pagination?.total ?? list.totalSize;
  const summary = search
    ? `${total} ${total === 1 ? "video matches" : "videos match"} “${search}”.`
    : `${total} ${total === 1 ? "video" : "videos"}.`;
  const results = videos.length
    ? h("ul", { class: "grid", "aria-label": "Videos" }, videos.map(videoCard))
    : h(
        "p",
        { class: "empty" },
        search ? `No videos match “${search}”.` : "No videos yet. Be the first to upload one.",
      );

  return {
    title: search ? `“${search}”` : "Gallery",
    content: h(
      "section",
      null,
      h("div", { class: "page-head" }, h("h1", null, search ? "Search results" : "Videos"), form),
      h("p", { class: "hint", role: "status" }, summary),
      results,
      pager(page, totalPages, hrefFor),
    ),
  };
}
