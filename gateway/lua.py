"""Envoy's Lua HTTP filter, for the few answers only the edge can reshape."""

from __future__ import annotations

from typing import Any


def lua_filter(source: str) -> dict[str, Any]:
    return {
        "name": "envoy.filters.http.lua",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua",
            "default_source_code": {"inline_string": source},
        },
    }
