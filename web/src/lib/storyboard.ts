// Scrub previews: a WebVTT index whose cues point at tiles of sprite sheets (`sheet-001.jpg#xywh=x,y,w,h`).

export interface StoryboardTile {
  start: number;
  end: number;
  url: string;
  x: number;
  y: number;
  width: number;
  height: number;
}

const TIMING = /^\s*([\d:.]+)\s+-->\s+([\d:.]+)/;
const FRAGMENT = /#xywh=(\d+),(\d+),(\d+),(\d+)$/;

/** `hh:mm:ss.mmm` or `mm:ss.mmm` → seconds. */
export function parseTimestamp(text: string): number {
  return text.split(":").reduce((total, part) => total * 60 + Number(part), 0);
}

/**
 * Tiles of a storyboard index found at `indexUrl`. Sheets are named relative to the index; the index's
 * query (a signed grant covering the whole video) is carried over, since a relative reference drops it.
 */
export function parseStoryboard(vtt: string, indexUrl: string): StoryboardTile[] {
  const base = new URL(indexUrl, location.href);
  const tiles: StoryboardTile[] = [];
  const lines = vtt.split(/\r?\n/);
  for (let i = 0; i < lines.length; i += 1) {
    const timing = TIMING.exec(lines[i] ?? "");
    const target = lines[i + 1]?.trim();
    if (!timing || !target) continue;
    const fragment = FRAGMENT.exec(target);
    if (!fragment) continue;
    const sheet = new URL(target.slice(0, fragment.index), base);
    if (!sheet.search && sheet.origin === base.origin) sheet.search = base.search;
    tiles.push({
      start: parseTimestamp(timing[1] ?? "0"),
      end: parseTimestamp(timing[2] ?? "0"),
      url: sheet.href,
      x: Number(fragment[1]),
      y: Number(fragment[2]),
      width: Number(fragment[3]),
      height: Number(fragment[4]),
    });
    i += 1;
  }
  return tiles;
}

/** The tile showing `seconds`: the last one starting at or before it. */
export function tileAt(tiles: StoryboardTile[], seconds: number): StoryboardTile | null {
  let low = 0;
  let high = tiles.length - 1;
  let found: StoryboardTile | null = null;
  while (low <= high) {
    const middle = (low + high) >> 1;
    const tile = tiles[middle];
    if (!tile) break;
    if (tile.start <= seconds) {
      found = tile;
      low = middle + 1;
    } else {
      high = middle - 1;
    }
  }
  return found ?? tiles[0] ?? null;
}

export async function loadStoryboard(indexUrl: string, signal: AbortSignal): Promise<StoryboardTile[]> {
  const response = await fetch(indexUrl, { signal });
  if (!response.ok) return [];
  return parseStoryboard(await response.text(), response.url || indexUrl);
}
