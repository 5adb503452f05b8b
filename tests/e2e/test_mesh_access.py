"""Every method of every service, against the running platform (`videoforge up`), as each possible caller.

The methods come from the services themselves (reflection) and their descriptors, so a method added later is
tested without anyone listing it here. For each one:
- no client certificate, or one from another CA: the TLS handshake is refused, so the call never reaches the
  service and fails UNAVAILABLE (servers require client certificates: there is no unauthenticated call);
- a certificate of the mesh CA that names no identity: UNAUTHENTICATED (NO_CALLER_IDENTITY);
- every identity the allow-list does not name, and a stranger's: PERMISSION_DENIED (CALLER_NOT_ALLOWED);
- every identity it names: past the check (the service answers whatever it answers to an empty request).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from dataclasses import dataclass

import grpc
import pytest
from google.protobuf import descriptor_pool, message_factory
from google.protobuf.descriptor import MethodDescriptor
from google.rpc import error_details_pb2
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_status import rpc_status

import videoforge
from tests.fixtures.mesh_pki import SERVICE_IDENTITIES, MeshPki
from tests.fixtures.platform import RunningPlatform
from videoforge.kit.caller_access import allowed_callers
from videoforge.kit.mesh_tls import EDGE, GALLERY, MESH_IDENTITIES, OPERATOR, MeshCredentials, server_name_options
from videoforge.platform.mesh_certificates import mesh_directory

pytestmark = pytest.mark.e2e
MESH_REFUSALS = {"NO_CALLER_IDENTITY", "CALLER_NOT_ALLOWED"}
CALL_SECONDS = 10


@dataclass(frozen=True)
class ServedMethod:
    server: str  # the identity of the service serving it
    address: str
    method: MethodDescriptor

    @property
    def path(self) -> str:
        return f"/{self.method.containing_service.full_name}/{self.method.name}"

    def __str__(self) -> str:
        return self.path


@dataclass(frozen=True)
class Outcome:
    code: grpc.StatusCode
    reason: str = ""
    message: str = ""


def load_descriptors() -> None:
    """Imports every generated module, so the default pool knows every service a process may serve."""
    importlib.import_module("grpc_health.v1.health_pb2")
    importlib.import_module("grpc_reflection.v1alpha.reflection_pb2")
    for info in pkgutil.walk_packages(videoforge.__path__, "videoforge."):
        if info.name.endswith("_pb2") and (".v1." in info.name or ".edgeauth." in info.name):
            importlib.import_module(info.name)


@pytest.fixture(scope="module")
def pki(platform: RunningPlatform) -> MeshPki:
    return MeshPki.made_in(mesh_directory(platform.data_dir))


@pytest.fixture(scope="module")
def served(platform: RunningPlatform) -> list[ServedMethod]:
    load_descriptors()
    pool = descriptor_pool.Default()
    found = []
    for server in SERVICE_IDENTITIES:
        with platform.mesh_channel(server) as channel:
            replies = reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(
                iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=CALL_SECONDS
            )
            names = [s.name for reply in replies for s in reply.list_services_response.service]
        for name in names:
            service = pool.FindServiceByName(name)  # a KeyError names a service no descriptor describes
            found += [ServedMethod(server, platform.service_address(server), m) for m in service.methods]
    return found


def call(target: ServedMethod, credentials: grpc.ChannelCredentials) -> Outcome:
    """One call of the method with an empty request; how it ended (OK for a first streamed answer)."""
    method = target.method
    request = message_factory.GetMessageClass(method.input_type)()
    reply_class = message_factory.GetMessageClass(method.output_type)
    kind = ("stream" if method.client_streaming else "unary") + "_" + ("stream" if method.server_streaming else "unary")
    options = [*server_name_options(target.server), ("grpc.max_reconnect_backoff_ms", 200)]
    with grpc.secure_channel(target.address, credentials, options=options) as channel:
        invoke = getattr(channel, kind)(
            target.path,
            request_serializer=type(request).SerializeToString,
            response_deserializer=reply_class.FromString,
        )
        argument = iter([request]) if method.client_streaming else request
        try:
            answer = invoke(argument, timeout=CALL_SECONDS)
            if method.server_streaming:
                next(answer, None)  # a stream that answers has passed every check; health's Watch never ends
                answer.cancel()
            return Outcome(grpc.StatusCode.OK)
        except grpc.RpcError as error:
            return outcome_of(error)


def outcome_of(error: grpc.RpcError) -> Outcome:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    reason = ""
    for detail in status.details if status is not None else ():
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            reason = info.reason
    return Outcome(error.code(), reason, error.details() or "")  # type: ignore[attr-defined]


def credentials_of(pki: MeshPki, identity: str) -> grpc.ChannelCredentials:
    return pki.credentials(identity).channel_credentials()


def without_certificate(pki: MeshPki) -> grpc.ChannelCredentials:
    return grpc.ssl_channel_credentials(root_certificates=pki.credentials(OPERATOR).ca)


def presenting(mesh: MeshCredentials) -> grpc.ChannelCredentials:
    return mesh.channel_credentials()


def by_method(served: list[ServedMethod]) -> Iterator[tuple[ServedMethod, frozenset[str]]]:
    for target in served:
        yield target, allowed_callers(target.path)


def test_the_platform_serves_its_internal_methods_and_the_edges(served: list[ServedMethod]) -> None:
    paths = {target.path for target in served}
    assert "/videoforge.job.v1.JobInternalService/PurgeVideoJobs" in paths
    assert "/videoforge.job.v1.JobInternalService/CompleteAttempt" in paths
    assert "/videoforge.gallery.v1.GalleryInternalService/LookupVideo" in paths
    assert "/videoforge.transcoder.v1.TranscoderService/ProbeMedia" in paths
    assert "/envoy.service.auth.v3.Authorization/Check" in paths
    assert "/grpc.health.v1.Health/Check" in paths


def test_a_caller_without_a_mesh_certificate_is_refused_at_the_handshake(
    served: list[ServedMethod], pki: MeshPki
) -> None:
    anonymous, foreign = without_certificate(pki), presenting(pki.credentials_naming(GALLERY, foreign_ca=True))
    refused = {target.path: (call(target, anonymous).code, call(target, foreign).code) for target in served}
    assert set(refused.values()) == {(grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.UNAVAILABLE)}, refused


def test_a_mesh_certificate_naming_no_identity_is_unauthenticated(served: list[ServedMethod], pki: MeshPki) -> None:
    nameless = presenting(pki.credentials_naming())  # its common name is "gallery": only DNS names count
    outcomes = {target.path: call(target, nameless) for target in served}
    assert {(o.code, o.reason) for o in outcomes.values()} == {
        (grpc.StatusCode.UNAUTHENTICATED, "NO_CALLER_IDENTITY")
    }, outcomes


def test_every_identity_the_allow_list_leaves_out_is_permission_denied(
    served: list[ServedMethod], pki: MeshPki
) -> None:
    callers = {identity: credentials_of(pki, identity) for identity in MESH_IDENTITIES}
    callers["stranger"] = presenting(pki.credentials_naming("stranger"))
    wrong = {}
    for target, allowed in by_method(served):
        for identity, credentials in callers.items():
            if identity in allowed:
                continue
            outcome = call(target, credentials)
            if (outcome.code, outcome.reason) != (grpc.StatusCode.PERMISSION_DENIED, "CALLER_NOT_ALLOWED"):
                wrong[(target.path, identity)] = outcome
    assert not wrong


def test_every_identity_the_allow_list_names_gets_past_the_check(served: list[ServedMethod], pki: MeshPki) -> None:
    stopped = {}
    for target, allowed in by_method(served):
        for identity in allowed:
            outcome = call(target, credentials_of(pki, identity))
            if outcome.reason in MESH_REFUSALS or outcome.code == grpc.StatusCode.UNAVAILABLE:
                stopped[(target.path, identity)] = outcome
    assert not stopped


def test_a_refusal_says_who_asked_and_who_may(served: list[ServedMethod], pki: MeshPki) -> None:
    (purge,) = [t for t in served if t.path == "/videoforge.job.v1.JobInternalService/PurgeVideoJobs"]
    outcome = call(purge, credentials_of(pki, EDGE))
    assert outcome.message == (
        "edge may not call /videoforge.job.v1.JobInternalService/PurgeVideoJobs; it is open to gallery."
    )
