"""JSON error bodies carry the original API's `error` field beside `code` and `message`.

The original VideoForge API answers errors as `{"error": "Video not found"}`; the transcoder writes
`{"code": 5, "message": "Video not found", "details": []}`. Adding `error` (the same text as `message`) serves
clients of both without renaming anything. The edge's own replies get it from `local_replies`; this filter adds
it to the services' answers, and leaves a body that already has it alone.
"""

from __future__ import annotations

from typing import Any

from videoforge.gateway.lua import lua_filter

# A JSON string literal is copied as it stands (escapes included), so nothing is decoded or re-encoded.
# The top-level keys are found by the `{` or `,` before them, which a key-like text inside a string never has
# (its quote is escaped).
LUA_SOURCE = r"""
local function string_literal_at(text, first)
  local i = first + 1
  while i <= #text do
    local c = string.sub(text, i, i)
    if c == "\\" then
      i = i + 2
    elseif c == '"' then
      return string.sub(text, first, i)
    else
      i = i + 1
    end
  end
  return nil
end

function envoy_on_response(response_handle)
  local headers = response_handle:headers()
  local status = tonumber(headers:get(":status"))
  local content_type = headers:get("content-type") or ""
  if status == nil or status < 400 or string.find(content_type, "application/json", 1, true) ~= 1 then
    return
  end
  local body = response_handle:body()
  if body == nil or body:length() == 0 then
    return
  end
  local text = body:getBytes(0, body:length())
  if string.find(text, '[{,]%s*"error"%s*:') then
    return
  end
  local _, quote = string.find(text, '[{,]%s*"message"%s*:%s*"')
  local brace = string.find(text, "{", 1, true)
  if quote == nil or brace == nil then
    return
  end
  local message = string_literal_at(text, quote)
  if message == nil then
    return
  end
  body:setBytes(string.sub(text, 1, brace) .. '"error":' .. message .. "," .. string.sub(text, brace + 1))
end
"""


def error_body_filter() -> dict[str, Any]:
    return lua_filter(LUA_SOURCE)
