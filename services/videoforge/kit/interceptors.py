"""Server interceptors every service uses: request id + access log, caller identity, request checks, error
translation."""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import Any

import grpc
from grpc.aio import ServicerContext

from videoforge.kit.errors import DomainError, Unauthenticated
from videoforge.kit.grpc_errors import to_grpc_status
from videoforge.kit.principal import reset_principal, set_principal
from videoforge.kit.request_checks import check_request
from videoforge.kit.tokens import TokenVerifier

log = logging.getLogger("videoforge.rpc")

# Health and reflection answer anonymously and are not worth an access-log line each.
_QUIET_PREFIXES = ("/grpc.health.v1.", "/grpc.reflection.")


def _metadata(context: ServicerContext, key: str) -> str:
    for item in context.invocation_metadata() or ():
        if item.key == key:
            return item.value if isinstance(item.value, str) else item.value.decode()
    return ""


class ServiceInterceptor(grpc.aio.ServerInterceptor):
    """Wraps every handler once so these concerns share one code path for unary and streaming RPCs."""

    def __init__(self, verifier: TokenVerifier | None) -> None:
        self._verifier = verifier

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or method.startswith(_QUIET_PREFIXES):
            return handler
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                self._wrap_unary(method, handler.unary_unary),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                self._wrap_stream(method, handler.unary_stream),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler

    def _authenticate(self, context: ServicerContext) -> Any:
        header = _metadata(context, "authorization")
        if not header or self._verifier is None:
            return set_principal(None)
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthenticated("Use 'Authorization: Bearer <access token>'.", "INVALID_TOKEN")
        principal = self._verifier.verify(token.strip())
        return set_principal(replace(principal, token=token.strip()))

    @contextlib.asynccontextmanager
    async def _handled(self, method: str, request: Any, context: ServicerContext) -> AsyncIterator[None]:
        """Authenticates the caller, checks the request, translates errors once, and writes one access-log line.

        An unexpected error answers INTERNAL with the request id only: its text may hold SQL, paths or values,
        so the full story goes to the log under that id.
        """
        started, request_id = time.perf_counter(), _metadata(context, "x-request-id") or uuid.uuid4().hex
        code, token = "OK", None
        try:
            token = self._authenticate(context)
            check_request(request)
            yield
        except DomainError as error:
            code = error.code.value
            await context.abort_with_status(to_grpc_status(error))
        except grpc.aio.AbortError:
            raise  # a servicer chose its own status
        except Exception:
            code = "INTERNAL"
            log.exception("unhandled error", extra={"method": method, "request_id": request_id})
            await context.abort(grpc.StatusCode.INTERNAL, f"internal error, reference {request_id}")
        finally:
            # A stream the client left early is closed from another context, where the token is not valid.
            if token is not None:
                with contextlib.suppress(ValueError):
                    reset_principal(token)
            _log_call(method, request_id, code, started)

    def _wrap_unary(self, method: str, behaviour: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def wrapped(request: Any, context: ServicerContext) -> Any:
            async with self._handled(method, request, context):
                return await behaviour(request, context)

        return wrapped

    def _wrap_stream(self, method: str, behaviour: Callable[..., AsyncIterator[Any]]) -> Callable[..., Any]:
        async def wrapped(request: Any, context: ServicerContext) -> AsyncIterator[Any]:
            async with self._handled(method, request, context):
                async for item in behaviour(request, context):
                    yield item

        return wrapped


def _log_call(method: str, request_id: str, code: str, started: float) -> None:
    elapsed_ms = (time.perf_counter() - started) * 1000
    level = logging.WARNING if code == "INTERNAL" else logging.INFO
    log.log(level, "%s %s %.1fms", method, code, elapsed_ms, extra={"request_id": request_id, "code": code})
