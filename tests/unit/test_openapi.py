"""The OpenAPI document follows the transcoder's HTTP rules and protobuf's JSON mapping, and the committed one is
what the committed descriptor set describes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from videoforge.gateway.openapi import openapi_text, render_openapi
from videoforge.gateway.openapi_route import DEFAULT_DOCUMENT, DOCUMENT_PATH


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return render_openapi()


def schema(document: dict[str, Any], name: str) -> dict[str, Any]:
    return document["components"]["schemas"][name]


def test_the_committed_document_is_the_one_the_committed_descriptor_describes() -> None:
    assert DEFAULT_DOCUMENT.read_text() == openapi_text(), "stale: run python scripts/generate_protos.py"
    assert json.loads(DEFAULT_DOCUMENT.read_text())["openapi"].startswith("3.")


def test_fields_follow_the_protobuf_json_mapping(document: dict[str, Any]) -> None:
    video = schema(document, "videoforge.gallery.v1.Video")["properties"]
    assert video["viewCount"]["type"] == "string" and video["viewCount"]["format"] == "int64"
    assert video["state"]["enum"][:2] == ["STATE_UNSPECIFIED", "STATE_UPLOADED"]
    assert video["createTime"] == {**video["createTime"], "type": "string", "format": "date-time", "readOnly": True}
    assert video["media"]["$ref"] == "#/components/schemas/videoforge.transcoder.v1.MediaInfo"
    upload = schema(document, "videoforge.gallery.v1.CreateUploadUrlResponse")["properties"]
    assert upload["headers"]["additionalProperties"] == {"type": "string"}
    parts = schema(document, "videoforge.gallery.v1.MultipartUpload")["properties"]["parts"]
    assert parts["items"] == {"$ref": "#/components/schemas/videoforge.gallery.v1.UploadPart"}
    assert schema(document, "videoforge.gallery.v1.CreateUploadUrlRequest")["required"] == ["filename", "contentType"]


def test_path_variables_become_one_parameter_per_wildcard(document: dict[str, Any]) -> None:
    get_video = document["paths"]["/v1/videos/{video}"]["get"]
    assert [(p["name"], p["in"]) for p in get_video["parameters"]] == [("video", "path")]
    assert "`videos/{video}`" in get_video["parameters"][0]["description"]
    assert "/v1/jobs/{job}:cancel" in document["paths"]
    assert "/api/stream/{videoId}/manifest/{path}" in document["paths"]


def test_calls_without_a_whole_body_take_the_other_fields_as_query_parameters(document: dict[str, Any]) -> None:
    listing = document["paths"]["/api/gallery/videos"]["get"]
    assert {p["name"] for p in listing["parameters"]} >= {"search", "page", "limit", "pageSize", "pageToken"}
    update = document["paths"]["/v1/videos/{video}"]["patch"]
    assert [p["name"] for p in update["parameters"] if p["in"] == "query"] == ["updateMask"]
    body = update["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/videoforge.gallery.v1.Video"}
    cancel = document["paths"]["/v1/jobs/{job}:cancel"]["post"]
    # `body: "*"` with the only field in the path: an empty object, and no query parameters.
    assert cancel["requestBody"]["content"]["application/json"]["schema"]["properties"] == {}
    assert [p["in"] for p in cancel["parameters"]] == ["path"]


def test_public_reads_may_come_without_a_token_and_everything_else_needs_one(document: dict[str, Any]) -> None:
    assert document["security"] == [{"bearerAuth": []}]
    assert document["components"]["securitySchemes"]["bearerAuth"]["bearerFormat"] == "JWT"
    assert document["paths"]["/api/gallery/videos"]["get"]["security"] == [{}, {"bearerAuth": []}]
    assert "security" not in document["paths"]["/api/gallery/my-videos"]["get"]


def test_errors_and_the_edges_own_answers_are_described(document: dict[str, Any]) -> None:
    error = document["paths"]["/api/jobs"]["get"]["responses"]["default"]["content"]["application/json"]["schema"]
    assert error == {"$ref": "#/components/schemas/ErrorBody"}
    assert set(schema(document, "ErrorBody")["properties"]) == {"code", "message", "error", "details"}
    download = document["paths"]["/api/jobs/{job}/assets/{asset}/download"]["get"]["responses"]
    assert "Location" in download["302"]["headers"] and "200" not in download
    assert document["paths"][DOCUMENT_PATH]["get"]["security"] == [{}]
