"""A video's loudness figures (by name, as the job service and the gallery store them) and their proto message."""

from __future__ import annotations

from collections.abc import Mapping

from videoforge.job.v1 import job_pb2


def loudness_proto(fields: Mapping[str, float] | None) -> job_pb2.Loudness | None:
    return job_pb2.Loudness(**fields) if fields is not None else None


def loudness_fields(message: job_pb2.Loudness) -> dict[str, float]:
    return {field.name: getattr(message, field.name) for field in message.DESCRIPTOR.fields}
