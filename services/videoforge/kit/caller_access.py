"""Which mesh identities may call which methods: one table, enforced on every service by one server interceptor.

The caller's identity is the DNS name in the certificate it presented over mutual TLS (`mesh_tls`). A method the
table does not name is closed to every caller, so a method added later stays closed until someone decides who
calls it. The bearer token, if any, is checked afterwards by the service itself: the table says which *process*
may ask, the token which *person* asks.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import grpc
from grpc.aio import ServicerContext

from videoforge.kit.errors import PermissionDenied, Unauthenticated
from videoforge.kit.grpc_errors import to_grpc_status
from videoforge.kit.mesh_tls import EDGE, GALLERY, MESH_IDENTITIES, STREAMING, WORKER

ANY_MESH_IDENTITY = frozenset(MESH_IDENTITIES)
NOBODY: frozenset[str] = frozenset()
_ONLY_EDGE = frozenset({EDGE})

# Keys: a whole service (`package.Service`), or one method (`/package.Service/Method`), whose entry wins.
ALLOWED_CALLERS: Mapping[str, frozenset[str]] = {
    # Probes and tools: any identity of the mesh.
    "grpc.health.v1.Health": ANY_MESH_IDENTITY,
    "grpc.reflection.v1alpha.ServerReflection": ANY_MESH_IDENTITY,
    # Public services: the edge routes them (JSON, gRPC-Web, gRPC) and the service checks the person's token.
    "videoforge.identity.v1.IdentityService": _ONLY_EDGE,
    "videoforge.gallery.v1.GalleryService": _ONLY_EDGE,
    "videoforge.gallery.v1.GalleryApiService": _ONLY_EDGE,
    "videoforge.gallery.v1.WebhookService": _ONLY_EDGE,
    "videoforge.gallery.v1.CaptionService": _ONLY_EDGE,
    "videoforge.job.v1.JobService": _ONLY_EDGE,
    "videoforge.job.v1.JobAdminService": _ONLY_EDGE,
    "videoforge.job.v1.JobApiService": _ONLY_EDGE,
    "videoforge.streaming.v1.StreamingService": _ONLY_EDGE,
    # The edge's check of signed media URLs (ext_authz), on every /media/ request.
    "envoy.service.auth.v3.Authorization": _ONLY_EDGE,
    # Internal methods, each for the identity whose work needs it.
    "/videoforge.gallery.v1.GalleryInternalService/LookupVideo": frozenset({STREAMING}),
    "/videoforge.job.v1.JobInternalService/CreateJob": frozenset({GALLERY}),
    "/videoforge.job.v1.JobInternalService/PurgeVideoJobs": frozenset({GALLERY}),
    "/videoforge.job.v1.JobInternalService/ListJobEvents": frozenset({GALLERY}),
    "/videoforge.job.v1.JobInternalService/AcknowledgeJobEvents": frozenset({GALLERY}),
    "/videoforge.job.v1.JobInternalService/GetPublishedOutput": frozenset({STREAMING}),
    "/videoforge.job.v1.JobInternalService/StartAttempt": frozenset({WORKER}),
    "/videoforge.job.v1.JobInternalService/ReportProgress": frozenset({WORKER}),
    "/videoforge.job.v1.JobInternalService/RecordSource": frozenset({WORKER}),
    "/videoforge.job.v1.JobInternalService/RecordLiveOutput": frozenset({WORKER}),
    "/videoforge.job.v1.JobInternalService/CompleteAttempt": frozenset({WORKER}),
    "/videoforge.job.v1.JobInternalService/FailAttempt": frozenset({WORKER}),
    "/videoforge.job.v1.JobInternalService/DiscardAttempt": frozenset({WORKER}),
    "/videoforge.transcoder.v1.TranscoderService/ProbeMedia": frozenset({GALLERY}),
    # No process calls it today: closed until one needs it.
    "/videoforge.transcoder.v1.TranscoderService/PlanLadder": NOBODY,
}


def allowed_callers(method: str) -> frozenset[str]:
    """The identities that may call `method` (`/package.Service/Method`); none for a method the table omits."""
    service = method.lstrip("/").rpartition("/")[0]
    return ALLOWED_CALLERS.get(method, ALLOWED_CALLERS.get(service, NOBODY))


def caller_identities(context: ServicerContext) -> frozenset[str]:
    """The DNS names of the caller's verified certificate; empty for a caller that presented none."""
    names = context.auth_context().get("x509_subject_alternative_name", [])
    return frozenset(name.decode() if isinstance(name, bytes) else name for name in names)


async def check_caller(method: str, context: ServicerContext) -> None:
    """Aborts the call unless its caller's identity is on `method`'s allow-list."""
    callers = caller_identities(context)
    if not callers:
        error: Unauthenticated | PermissionDenied = Unauthenticated(
            f"{method} takes calls from mesh identities only: present a client certificate the mesh CA issued.",
            "NO_CALLER_IDENTITY",
        )
        await context.abort_with_status(to_grpc_status(error))
    allowed = allowed_callers(method)
    if not callers & allowed:
        who = ", ".join(sorted(allowed)) or "no caller"
        error = PermissionDenied(
            f"{' and '.join(sorted(callers))} may not call {method}; it is open to {who}.", "CALLER_NOT_ALLOWED"
        )
        await context.abort_with_status(to_grpc_status(error))


class CallerAccessInterceptor(grpc.aio.ServerInterceptor):
    """Checks the caller against `ALLOWED_CALLERS` before any handler runs, for every kind of method."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        method = handler_call_details.method
        kinds = (
            (handler.unary_unary, grpc.unary_unary_rpc_method_handler, False),
            (handler.unary_stream, grpc.unary_stream_rpc_method_handler, True),
            (handler.stream_unary, grpc.stream_unary_rpc_method_handler, False),
            (handler.stream_stream, grpc.stream_stream_rpc_method_handler, True),
        )
        for behaviour, make_handler, streams_answers in kinds:
            if behaviour is not None:
                guarded = _guarded_stream(method, behaviour) if streams_answers else _guarded(method, behaviour)
                return make_handler(
                    guarded,
                    request_deserializer=handler.request_deserializer,
                    response_serializer=handler.response_serializer,
                )
        return handler


def _guarded(method: str, behaviour: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    async def checked(request: Any, context: ServicerContext) -> Any:
        await check_caller(method, context)
        return await behaviour(request, context)

    return checked


def _guarded_stream(method: str, behaviour: Callable[..., Any]) -> Callable[..., AsyncIterator[Any]]:
    # Always an async generator, which the interceptors around this one iterate; a handler that writes its
    # answers itself (health's Watch: `await context.write`) runs inside it, which grpc.aio allows.
    async def checked(request: Any, context: ServicerContext) -> AsyncIterator[Any]:
        await check_caller(method, context)
        answers = behaviour(request, context)
        if inspect.isawaitable(answers):
            await answers
            return
        async for answer in answers:
            yield answer

    return checked
