"""Request headers become gRPC metadata once the transcoder has turned a JSON call into a gRPC one; gRPC allows
fewer characters in a key (`0-9 a-z _ . -`) than HTTP/1.1 does in a header name (`#`, `+`, `~`, ...), and a
service's gRPC server answers a key outside them with a stream error instead of the call. No service reads such a
header, so the edge drops them before anything is forwarded.
"""

from __future__ import annotations

from typing import Any

from videoforge.gateway.lua import lua_filter

# Pseudo-headers (`:path`) are the edge's own; every other name must be a valid gRPC metadata key.
LUA_SOURCE = r"""
function envoy_on_request(request_handle)
  local headers = request_handle:headers()
  local refused = {}
  for key, _ in pairs(headers) do
    if string.sub(key, 1, 1) ~= ":" and string.find(key, "[^0-9a-z_.%-]") then
      table.insert(refused, key)
    end
  end
  for _, key in ipairs(refused) do
    headers:remove(key)
  end
end
"""


def metadata_headers_filter() -> dict[str, Any]:
    return lua_filter(LUA_SOURCE)
