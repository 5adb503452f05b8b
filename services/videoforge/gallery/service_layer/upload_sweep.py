"""The platform's own upload cleanup: abandoned uploads go without an operator running `admin reconcile`.

Each gallery replica sweeps on its own; sweeping is idempotent (aborting or deleting twice is a no-op), so
replicas need no coordination.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from videoforge.gallery.service_layer.gallery import Gallery

log = logging.getLogger(__name__)


async def sweep_uploads_every(gallery: Gallery, interval: float, stop: asyncio.Event) -> None:
    """Removes uploads never confirmed, orphaned source objects and stale multipart uploads until `stop`."""
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
        if stop.is_set():
            return
        try:
            report = await gallery.sweep_uploads()
        except Exception:
            log.warning("upload sweep failed; retrying at the next interval", exc_info=True)
            continue
        if report.never_confirmed or report.orphaned_objects or report.incomplete_multipart:
            log.info(
                "upload sweep removed %d unconfirmed uploads, %d orphaned objects, %d open multipart uploads"
                " (%d bytes)",
                len(report.never_confirmed),
                len(report.orphaned_objects),
                len(report.incomplete_multipart),
                report.freed_bytes,
            )
