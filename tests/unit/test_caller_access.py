"""The mesh's allow-list read as a table: every method of every service a VideoForge process serves has its
callers written down, and the internal ones go only to the identity whose work needs them. (That the services
enforce it on the wire is tested method by method in tests/e2e/test_mesh_access.py.)"""

from __future__ import annotations

import importlib
import pkgutil

from google.protobuf.descriptor import ServiceDescriptor
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection_pb2

import videoforge
from videoforge.kit.caller_access import ALLOWED_CALLERS, allowed_callers
from videoforge.kit.mesh_tls import EDGE, GALLERY, MESH_IDENTITIES, STREAMING, WORKER
from videoforge.streaming.edgeauth import external_auth_pb2


def served_services() -> list[ServiceDescriptor]:
    """Every service of the project's protos, the edge's media check, health and reflection."""
    modules = [health_pb2, reflection_pb2, external_auth_pb2]
    for info in pkgutil.walk_packages(videoforge.__path__, "videoforge."):
        if ".v1." in info.name and info.name.endswith("_pb2"):
            modules.append(importlib.import_module(info.name))
    return [service for module in modules for service in module.DESCRIPTOR.services_by_name.values()]


def method_paths(service: ServiceDescriptor) -> list[str]:
    return [f"/{service.full_name}/{method.name}" for method in service.methods]


def test_every_served_method_has_its_callers_written_down() -> None:
    unlisted = [
        path
        for service in served_services()
        for path in method_paths(service)
        if path not in ALLOWED_CALLERS and service.full_name not in ALLOWED_CALLERS
    ]
    assert not unlisted, f"add these to ALLOWED_CALLERS in videoforge/kit/caller_access.py: {unlisted}"


def test_the_table_names_only_real_methods_and_known_identities() -> None:
    known = {path for service in served_services() for path in method_paths(service)}
    assert [key for key in ALLOWED_CALLERS if key.startswith("/") and key not in known] == []
    assert all(callers <= set(MESH_IDENTITIES) for callers in ALLOWED_CALLERS.values())


def test_only_workers_report_on_attempts() -> None:
    for method in (
        "StartAttempt",
        "ReportProgress",
        "RecordSource",
        "CompleteAttempt",
        "FailAttempt",
        "DiscardAttempt",
    ):
        assert allowed_callers(f"/videoforge.job.v1.JobInternalService/{method}") == {WORKER}


def test_only_the_gallery_creates_and_purges_jobs_and_reads_their_events() -> None:
    for method in ("CreateJob", "PurgeVideoJobs", "ListJobEvents", "AcknowledgeJobEvents"):
        assert allowed_callers(f"/videoforge.job.v1.JobInternalService/{method}") == {GALLERY}
    assert allowed_callers("/videoforge.transcoder.v1.TranscoderService/ProbeMedia") == {GALLERY}


def test_playback_reads_what_it_signs_from_the_gallery_and_the_job_service() -> None:
    assert allowed_callers("/videoforge.gallery.v1.GalleryInternalService/LookupVideo") == {STREAMING}
    assert allowed_callers("/videoforge.job.v1.JobInternalService/GetPublishedOutput") == {STREAMING}


def test_the_edge_reaches_public_methods_and_the_media_check_and_nothing_internal() -> None:
    for service in served_services():
        for path in method_paths(service):
            internal = "Internal" in service.full_name or "TranscoderService" in service.full_name
            probe = service.full_name.startswith("grpc.")
            assert (EDGE in allowed_callers(path)) == (not internal), path
            if not internal and not probe:
                assert allowed_callers(path) == {EDGE}, path


def test_health_and_reflection_answer_any_identity_of_the_mesh_and_an_unknown_method_nobody() -> None:
    assert allowed_callers("/grpc.health.v1.Health/Check") == set(MESH_IDENTITIES)
    assert allowed_callers("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo") == set(MESH_IDENTITIES)
    assert allowed_callers("/videoforge.job.v1.JobInternalService/SomethingNew") == frozenset()
