"""The original API's asset download as its document uses it (`curl -L -o file`): a JSON request for
`/api/jobs/{job}/assets/{asset}/download` is answered with a redirect to the signed URL the service returned.

The service answers JSON (`{url, expiresIn, filename}`) like every method; only the edge knows the request came
in on that route, so the rewrite lives here. gRPC, gRPC-Web and `/v1` callers get the JSON answer unchanged.
"""

from __future__ import annotations

from typing import Any

from videoforge.gateway.lua import lua_filter

# The route, as the OpenAPI document spells it; DOWNLOAD in the Lua source matches its requests.
REDIRECTED_ROUTE = "/api/jobs/{job}/assets/{asset}/download"

# Runs on the JSON the transcoder wrote. Protobuf's JSON may escape characters of the URL as \uXXXX; a signed
# URL holds only ASCII, so each escape is one character.
LUA_SOURCE = r"""
local DOWNLOAD = "^/api/jobs/[^/?]+/assets/[^/?]+/download"

function envoy_on_request(request_handle)
  local headers = request_handle:headers()
  if headers:get(":method") == "GET" and string.find(headers:get(":path"), DOWNLOAD) then
    request_handle:streamInfo():dynamicMetadata():set("videoforge.download", "redirect", "1")
  end
end

function envoy_on_response(response_handle)
  local marked = response_handle:streamInfo():dynamicMetadata():get("videoforge.download")
  if marked == nil or response_handle:headers():get(":status") ~= "200" then
    return
  end
  local body = response_handle:body()
  local url = string.match(body:getBytes(0, body:length()), '"url"%s*:%s*"([^"]+)"')
  if url == nil then
    return
  end
  url = string.gsub(url, "\\u(%x%x%x%x)", function(code) return string.char(tonumber(code, 16)) end)
  url = string.gsub(url, "\\/", "/")
  response_handle:headers():replace(":status", "302")
  response_handle:headers():replace("location", url)
end
"""


def download_redirect_filter() -> dict[str, Any]:
    return lua_filter(LUA_SOURCE)
