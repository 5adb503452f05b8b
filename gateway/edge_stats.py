"""The edge's own Prometheus stats on a port of their own, for a scraper outside the edge's pod or host.

Envoy's admin serves them at /stats/prometheus, but the admin can also stop Envoy and change its state, so it
listens on loopback only. This listener (EDGE_STATS_PORT; 0, the default, means none) passes exactly that path
through to the admin, for GET only; anything else is a 404. The public listener has no such route.
"""

from __future__ import annotations

from typing import Any

from videoforge.kit.settings import Settings

_API = "type.googleapis.com/envoy.extensions"
ADMIN_CLUSTER = "edge_admin"
STATS_PATH = "/stats/prometheus"


def stats_listeners(settings: Settings) -> list[dict[str, Any]]:
    if not settings.edge_stats_port:
        return []
    only_get = [{"name": ":method", "string_match": {"exact": "GET"}}]
    manager = {
        "@type": f"{_API}.filters.network.http_connection_manager.v3.HttpConnectionManager",
        "stat_prefix": "edge_stats",
        "codec_type": "AUTO",
        "route_config": {
            "virtual_hosts": [
                {
                    "name": "stats",
                    "domains": ["*"],
                    "routes": [
                        {"match": {"path": STATS_PATH, "headers": only_get}, "route": {"cluster": ADMIN_CLUSTER}}
                    ],
                }
            ]
        },
        "http_filters": [
            {"name": "envoy.filters.http.router", "typed_config": {"@type": f"{_API}.filters.http.router.v3.Router"}}
        ],
    }
    address = {"socket_address": {"address": settings.edge_host, "port_value": settings.edge_stats_port}}
    chain = {"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": manager}]}
    return [{"name": "edge_stats", "address": address, "filter_chains": [chain]}]


def stats_clusters(settings: Settings) -> list[dict[str, Any]]:
    """The admin, as the stats listener's upstream: its port must be fixed for the listener to find it."""
    if not settings.edge_stats_port:
        return []
    if not settings.edge_admin_port:
        raise ValueError("EDGE_STATS_PORT passes stats on from the admin: set EDGE_ADMIN_PORT too")
    admin = {"socket_address": {"address": "127.0.0.1", "port_value": settings.edge_admin_port}}
    return [
        {
            "name": ADMIN_CLUSTER,
            "type": "STATIC",
            "connect_timeout": "1s",
            "load_assignment": {
                "cluster_name": ADMIN_CLUSTER,
                "endpoints": [{"lb_endpoints": [{"endpoint": {"address": admin}}]}],
            },
        }
    ]
