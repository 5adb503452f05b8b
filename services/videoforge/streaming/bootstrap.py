"""Composition root of the streaming service."""

from __future__ import annotations

from videoforge.gallery.client import GalleryClient
from videoforge.job.client import JobInternalClient
from videoforge.kit.clients import open_channel
from videoforge.kit.mesh_tls import GALLERY, JOB
from videoforge.kit.runtime import Service, media_signer, mesh_credentials
from videoforge.kit.server import ServiceBinding
from videoforge.kit.settings import Settings
from videoforge.storage.s3 import blob_store_from_settings
from videoforge.streaming.adapters.mesh import GalleryVideoCatalog, JobPublishedOutputs
from videoforge.streaming.edgeauth import external_auth_pb2_grpc
from videoforge.streaming.entrypoints.grpc_servicer import StreamingServicer
from videoforge.streaming.media_authorization import AUTHORIZATION_SERVICE, MediaAuthorizationServicer
from videoforge.streaming.service_layer.playback import Playback
from videoforge.streaming.v1 import streaming_pb2, streaming_pb2_grpc


async def build(settings: Settings) -> Service:
    signer = media_signer(settings)
    if signer is None:
        raise SystemExit("CDN_PRIVATE_KEY_FILE is not set; start the platform with `videoforge up`.")
    verifier = signer.verifier(settings.cdn_key_pair_id)
    credentials = mesh_credentials(settings)
    gallery_channel = open_channel(settings.gallery_address, server=GALLERY, credentials=credentials)
    job_channel = open_channel(settings.job_address, server=JOB, credentials=credentials)
    playback = Playback(
        GalleryVideoCatalog(GalleryClient(gallery_channel, timeout=settings.rpc_timeout_seconds)),
        JobPublishedOutputs(JobInternalClient(job_channel, timeout=settings.rpc_timeout_seconds)),
        blob_store_from_settings(settings),
        signer,
        verifier,
        api_base_url=settings.edge_url,
        seconds=settings.signed_url_seconds,
    )
    servicer = StreamingServicer(playback)
    name = streaming_pb2.DESCRIPTOR.services_by_name["StreamingService"].full_name
    binding = ServiceBinding(lambda s: streaming_pb2_grpc.add_StreamingServiceServicer_to_server(servicer, s), [name])
    # The edge's ext_authz filter calls this for every /media/ request.
    media_check = MediaAuthorizationServicer(verifier, media_base_url=settings.media_base_url)
    media_binding = ServiceBinding(
        lambda s: external_auth_pb2_grpc.add_AuthorizationServicer_to_server(media_check, s), [AUTHORIZATION_SERVICE]
    )
    return Service([binding, media_binding], [gallery_channel.close, job_channel.close])
