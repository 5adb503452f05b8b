"""What the edge exposes: the public services and the cluster each lives in, the methods a caller without a
token may reach, and what the descriptor set says about them (server streams, method paths).
"""

from __future__ import annotations

from pathlib import Path

from google.protobuf import descriptor_pb2

DEFAULT_DESCRIPTOR = Path(__file__).resolve().parent / "videoforge.binpb"


# The services the edge exposes, and the cluster each lives in. Never the *InternalServices nor
# TranscoderService: those are for calls between services only.
PUBLIC_SERVICES: dict[str, str] = {
    "videoforge.identity.v1.IdentityService": "identity",
    "videoforge.gallery.v1.GalleryService": "gallery",
    "videoforge.gallery.v1.GalleryApiService": "gallery",
    "videoforge.gallery.v1.WebhookService": "gallery",
    "videoforge.gallery.v1.CaptionService": "gallery",
    "videoforge.job.v1.JobService": "job",
    "videoforge.job.v1.JobAdminService": "job",
    "videoforge.job.v1.JobApiService": "job",
    "videoforge.streaming.v1.StreamingService": "streaming",
}


MEDIA_PREFIX = "/media/"


# The only methods a caller without a token may reach: signing in and out, the keys that verify tokens, and
# public reads. Every other method of a public service, one added later included, needs a valid token.
ANONYMOUS_METHODS = frozenset(
    {
        "/videoforge.identity.v1.IdentityService/Register",
        "/videoforge.identity.v1.IdentityService/Login",
        "/videoforge.identity.v1.IdentityService/RefreshSession",
        "/videoforge.identity.v1.IdentityService/Logout",
        "/videoforge.identity.v1.IdentityService/GetJwks",
        "/videoforge.gallery.v1.GalleryService/ListVideos",
        "/videoforge.gallery.v1.GalleryService/GetVideo",
        "/videoforge.gallery.v1.GalleryApiService/ListVideos",
        "/videoforge.gallery.v1.GalleryApiService/GetVideo",
        "/videoforge.gallery.v1.CaptionService/ListCaptions",
        "/videoforge.streaming.v1.StreamingService/ListQualities",
        "/videoforge.streaming.v1.StreamingService/GetStream",
        "/videoforge.streaming.v1.StreamingService/GetPlayback",
        "/videoforge.streaming.v1.StreamingService/GetThumbnail",
        "/videoforge.streaming.v1.StreamingService/GetVideoStream",
        "/videoforge.streaming.v1.StreamingService/GetManifest",
        # Players ask for keys without a person's token: the playback grant they carry is checked instead.
        "/videoforge.streaming.v1.StreamingService/GetContentKey",
        "/videoforge.streaming.v1.StreamingService/GetClearKeyLicense",
    }
)


# Calls that try a password or mint tokens get their own, tighter bucket per client.
SIGN_IN_METHODS = ("Login", "Register", "RefreshSession", "ChangePassword")


SIGN_IN_SERVICE = "videoforge.identity.v1.IdentityService"


def server_streaming_methods(descriptor: Path) -> list[tuple[str, str]]:
    """(service, gRPC path) of every server-streaming method of the public services."""
    return [
        (name, f"/{name}/{method.name}")
        for name, service in public_services(descriptor).items()
        for method in service.method
        if method.server_streaming
    ]


def public_methods(descriptor: Path) -> list[str]:
    """The gRPC path of every method of the public services."""
    return [
        f"/{name}/{method.name}" for name, service in public_services(descriptor).items() for method in service.method
    ]


def public_services(descriptor: Path) -> dict[str, descriptor_pb2.ServiceDescriptorProto]:
    """Each of `PUBLIC_SERVICES` as the descriptor set describes it."""
    files = descriptor_pb2.FileDescriptorSet.FromString(descriptor.read_bytes()).file
    found = {f"{file.package}.{service.name}": service for file in files for service in file.service}
    missing = sorted(set(PUBLIC_SERVICES) - set(found))
    if missing:
        raise ValueError(f"{descriptor} does not describe {', '.join(missing)}")
    return {name: found[name] for name in PUBLIC_SERVICES}
