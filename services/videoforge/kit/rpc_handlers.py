"""Wraps a gRPC method handler's behaviour while keeping its (de)serializers: what every server interceptor
that measures or traces a call needs. Unary and server-streaming calls are the only kinds the mesh serves."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc

Wrapper = Callable[[Callable[..., Any]], Callable[..., Any]]


def wrap_handler(handler: grpc.RpcMethodHandler | None, unary: Wrapper, stream: Wrapper) -> Any:
    """`handler` with its unary-unary behaviour passed through `unary`, or its unary-stream one through `stream`."""
    if handler is None:
        return None
    if handler.unary_unary:
        return grpc.unary_unary_rpc_method_handler(
            unary(handler.unary_unary),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(
            stream(handler.unary_stream),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
    return handler
