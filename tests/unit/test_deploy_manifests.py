"""The deployment descriptions in deploy/ hold together: the Kubernetes manifests validate (strictly) against
the API of the Kubernetes version we target, KEDA's resources against the shape of KEDA's CRDs, the
CloudFormation template passes cfn-lint, and the configuration they carry names real settings, sets every one
production needs, and agrees with itself (ports, queue attempts, secret files, the edge's bootstrap).

All offline: kubernetes-validate and cfn-lint ship their schemas and specifications.
"""

from __future__ import annotations

import base64
import functools
import importlib.resources
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import certifi
import jsonschema
import kubernetes_validate
import pytest
import yaml
from cryptography import x509
from referencing import Registry, Resource

from tests.fixtures.envoy import envoy_binary
from tests.fixtures.mesh_pki import MeshPki
from tests.unit.test_caller_access import served_services
from videoforge.cli.main import ServiceName
from videoforge.kit.caller_access import allowed_callers
from videoforge.kit.settings import Settings
from videoforge.media_model import UPLOADS_ROOT
from videoforge.storage.s3 import PENDING_TAG

ROOT = Path(__file__).resolve().parents[2]
KUBERNETES = ROOT / "deploy" / "kubernetes"
TEMPLATE = ROOT / "deploy" / "aws" / "videoforge.yaml"
RENDER_SCRIPT = ROOT / "deploy" / "render_edge_config.py"
IMAGE_BUILD_SCRIPT = ROOT / "deploy" / "image" / "build"
SECRET_TEMPLATE = "secret.template.yaml"
# The oldest Kubernetes the manifests are written for (native gRPC probes, preStop sleep, HPA v2).
KUBERNETES_VERSION = "1.34.0"
KEDA_API_VERSION = "keda.sh/v1alpha1"
CONFIG_MAP = "videoforge-config"
SECRET = "videoforge-secrets"
SECRETS_DIR = "/etc/videoforge/secrets"
WORKER = "transcoder-worker"
EDGE = "edge"
EDGE_CONFIG_MAP = "edge-config"

Manifest = dict[str, Any]


# Settings, by the names the environment gives them.


def setting_env_names() -> dict[str, str]:
    """Environment name -> Settings field name (upper-cased field names, or the field's alias)."""
    names = {}
    for field_name, field in Settings.model_fields.items():
        alias = field.validation_alias
        names[(alias if isinstance(alias, str) else field_name).upper()] = field_name
    return names


# Production must set these: their defaults point at the embedded, one-machine platform. Prefixes catch a
# setting added later, which then needs a value here or a reason in NOT_NEEDED_IN_PRODUCTION.
REQUIRED_PREFIXES = ("SQS_", "JWT_", "CDN_", "QUEUE_BACKEND", "MESH_")
REQUIRED_NAMES = {
    "DATABASE_URL",
    "S3_BUCKET",
    "S3_REGION",
    "PUBLIC_URL",
    "EDGE_HOST",
    "VIDEOFORGE_DATA_DIR",
    *(f"{service.value.upper()}_ADDRESS" for service in ServiceName),
}
NOT_NEEDED_IN_PRODUCTION = {
    "SQS_ENDPOINT_URL": "empty means AWS's own endpoint",
}


def required_settings() -> set[str]:
    names = setting_env_names()
    prefixed = {name for name in names if name.startswith(REQUIRED_PREFIXES)}
    return (prefixed | REQUIRED_NAMES) - set(NOT_NEEDED_IN_PRODUCTION)


# The manifests.


@functools.cache
def manifest_files() -> tuple[Path, ...]:
    return tuple(sorted(path for path in KUBERNETES.glob("*.yaml") if path.name != "kustomization.yaml"))


@functools.cache
def all_manifests() -> tuple[tuple[str, Manifest], ...]:
    """(file name, document) for every document of every manifest file."""
    return tuple(
        (path.name, document)
        for path in manifest_files()
        for document in yaml.safe_load_all(path.read_text())
        if document is not None
    )


def manifest_id(entry: tuple[str, Manifest]) -> str:
    file_name, document = entry
    return f"{file_name}:{document['kind']}/{document['metadata']['name']}"


def core_manifests() -> list[tuple[str, Manifest]]:
    return [entry for entry in all_manifests() if entry[1]["apiVersion"] != KEDA_API_VERSION]


def keda_manifests() -> list[tuple[str, Manifest]]:
    return [entry for entry in all_manifests() if entry[1]["apiVersion"] == KEDA_API_VERSION]


def find(kind: str, name: str) -> Manifest:
    found = [document for _, document in all_manifests() if document["kind"] == kind]
    matches = [document for document in found if document["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind} {name}, found {len(matches)}"
    return matches[0]


def config_data() -> dict[str, str]:
    return find("ConfigMap", CONFIG_MAP)["data"]


def secret_data() -> dict[str, str]:
    return find("Secret", SECRET)["stringData"]


def pod_spec(deployment: str) -> Manifest:
    return find("Deployment", deployment)["spec"]["template"]["spec"]


def containers() -> Iterator[tuple[str, Manifest]]:
    for _, document in all_manifests():
        if document["kind"] == "Deployment":
            for container in document["spec"]["template"]["spec"]["containers"]:
                yield document["metadata"]["name"], container


def videoforge_deployments() -> list[str]:
    """Deployments running the videoforge image (everything but the Envoy edge)."""
    return [name for name, container in containers() if container["image"] == "videoforge"]


def env_value(container: Manifest, name: str) -> Any:
    matches = [entry for entry in container.get("env", []) if entry["name"] == name]
    assert len(matches) == 1, f"{container['name']} sets {name} {len(matches)} times"
    return matches[0].get("value", matches[0].get("valueFrom"))


# Kubernetes API validation.


@pytest.mark.parametrize("entry", core_manifests(), ids=manifest_id)
def test_every_core_manifest_validates_strictly_against_the_target_kubernetes_version(
    entry: tuple[str, Manifest],
) -> None:
    _, document = entry
    try:
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        path = "/".join(str(part) for part in error.absolute_path)
        pytest.fail(f"{manifest_id(entry)} at {path or '(top)'}: {error.message}")


def kubernetes_definitions() -> Resource[Any]:
    """The strict OpenAPI definitions kubernetes-validate ships for KUBERNETES_VERSION."""
    folder = f"v{KUBERNETES_VERSION}-local-strict"
    schemas = importlib.resources.files("kubernetes_validate") / "kubernetes-json-schema" / folder
    return Resource.from_contents(json.loads((schemas / "_definitions.json").read_text()))


def kubernetes_ref(name: str) -> dict[str, str]:
    return {"$ref": f"https://kubernetes.io/api/_definitions.json#/$defs/{name}"}


# KEDA's CRDs are not part of Kubernetes' schema: the fields of keda.sh/v1alpha1 we use, closed to typos, with
# Kubernetes' own definitions where KEDA reuses them (object metadata, the HPA's scaling behaviour).
AWS_SQS_METADATA = {
    "queueURL",
    "queueURLFromEnv",
    "queueLength",
    "activationQueueLength",
    "awsRegion",
    "awsEndpoint",
    "scaleOnInFlight",
    "scaleOnDelayed",
}
KEDA_SCHEMAS: dict[str, dict[str, Any]] = {
    "ScaledObject": {
        "type": "object",
        "additionalProperties": False,
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": KEDA_API_VERSION},
            "kind": {"const": "ScaledObject"},
            "metadata": kubernetes_ref("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"),
            "spec": {
                "type": "object",
                "additionalProperties": False,
                "required": ["scaleTargetRef", "triggers"],
                "properties": {
                    "scaleTargetRef": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["name"],
                        "properties": {
                            "apiVersion": {"type": "string"},
                            "kind": {"type": "string"},
                            "name": {"type": "string"},
                            "envSourceContainerName": {"type": "string"},
                        },
                    },
                    "pollingInterval": {"type": "integer", "minimum": 1},
                    "cooldownPeriod": {"type": "integer", "minimum": 0},
                    "minReplicaCount": {"type": "integer", "minimum": 0},
                    "maxReplicaCount": {"type": "integer", "minimum": 1},
                    "advanced": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "restoreToOriginalReplicaCount": {"type": "boolean"},
                            "horizontalPodAutoscalerConfig": {
                                "type": "object",
                                "additionalProperties": False,
                                "properties": {
                                    "name": {"type": "string"},
                                    "behavior": kubernetes_ref(
                                        "io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerBehavior"
                                    ),
                                },
                            },
                        },
                    },
                    "triggers": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["type", "metadata"],
                            "properties": {
                                "type": {"type": "string"},
                                "name": {"type": "string"},
                                "metricType": {"enum": ["AverageValue", "Value", "Utilization"]},
                                "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
                                "authenticationRef": {
                                    "type": "object",
                                    "additionalProperties": False,
                                    "required": ["name"],
                                    "properties": {
                                        "name": {"type": "string"},
                                        "kind": {"enum": ["TriggerAuthentication", "ClusterTriggerAuthentication"]},
                                    },
                                },
                            },
                            "if": {"properties": {"type": {"const": "aws-sqs-queue"}}},
                            "then": {
                                "properties": {
                                    "metadata": {
                                        "required": ["awsRegion", "queueLength"],
                                        "anyOf": [{"required": ["queueURL"]}, {"required": ["queueURLFromEnv"]}],
                                        "propertyNames": {"enum": sorted(AWS_SQS_METADATA)},
                                    }
                                }
                            },
                        },
                    },
                },
            },
        },
    },
    "TriggerAuthentication": {
        "type": "object",
        "additionalProperties": False,
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": KEDA_API_VERSION},
            "kind": {"const": "TriggerAuthentication"},
            "metadata": kubernetes_ref("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"),
            "spec": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "podIdentity": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["provider"],
                        "properties": {
                            "provider": {"enum": ["none", "aws", "azure-workload", "gcp"]},
                            "roleArn": {"type": "string"},
                            "identityOwner": {"enum": ["keda", "workload"]},
                        },
                        # KEDA refuses a role and an owner together.
                        "not": {"required": ["roleArn", "identityOwner"]},
                    },
                    "secretTargetRef": {"type": "array"},
                    "env": {"type": "array"},
                },
            },
        },
    },
}


@pytest.mark.parametrize("entry", keda_manifests(), ids=manifest_id)
def test_every_keda_resource_matches_the_shape_of_its_crd(entry: tuple[str, Manifest]) -> None:
    _, document = entry
    schema = KEDA_SCHEMAS.get(document["kind"])
    assert schema is not None, f"no schema for KEDA kind {document['kind']}"
    definitions = kubernetes_definitions()
    registry: Registry[Any] = Registry().with_resource(definitions.contents["$id"], definitions)
    validator = jsonschema.Draft202012Validator(schema, registry=registry)
    errors = validator.iter_errors(document)
    problems = [f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}" for e in errors]
    assert problems == []


def test_the_scaled_object_lives_in_a_file_of_its_own() -> None:
    keda_files = {file_name for file_name, _ in keda_manifests()}
    assert keda_files == {"transcoder-worker-scaler.yaml"}
    core_in_keda_files = [manifest_id(entry) for entry in core_manifests() if entry[0] in keda_files]
    assert core_in_keda_files == []


def test_kustomization_lists_every_manifest_except_the_secret_template() -> None:
    kustomization = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())
    listed = kustomization["resources"]
    assert len(listed) == len(set(listed))
    assert set(listed) == {path.name for path in manifest_files()} - {SECRET_TEMPLATE}


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl (with its built-in kustomize) is not installed")
def test_the_kustomization_runs_the_image_the_build_script_makes_at_this_version() -> None:
    (image,) = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())["images"]
    assert image["name"] == "videoforge" and videoforge_deployments(), "the manifests name the image `videoforge`"
    built = subprocess.run(
        [str(IMAGE_BUILD_SCRIPT), "--image-name"], capture_output=True, text=True, timeout=60, check=True
    ).stdout.strip()
    assert f"{image['newName']}:{image['newTag']}" == built
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert built.endswith(f":{version}")


def test_kustomize_builds_the_manifests_into_one_namespace() -> None:
    result = subprocess.run(
        ["kubectl", "kustomize", str(KUBERNETES)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    built = [document for document in yaml.safe_load_all(result.stdout) if document]
    namespaced = [document for document in built if document["kind"] != "Namespace"]
    assert {document["metadata"].get("namespace") for document in namespaced} == {"videoforge"}
    assert len(built) == len([entry for entry in all_manifests() if entry[0] != SECRET_TEMPLATE])


# The workloads.


@pytest.mark.parametrize("service", list(ServiceName), ids=str)
def test_every_service_has_a_deployment_running_it_and_a_service_in_front(service: ServiceName) -> None:
    container = pod_spec(service.value)["containers"][0]
    assert container["command"] == ["videoforge", "serve", service.value]
    selector = find("Service", service.value)["spec"]["selector"]
    labels = find("Deployment", service.value)["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= labels.items()


@pytest.mark.parametrize("service", list(ServiceName), ids=str)
def test_each_service_listens_on_all_addresses_at_the_port_its_shared_address_names(service: ServiceName) -> None:
    setting = f"{service.value.upper()}_ADDRESS"
    host, _, port = config_data()[setting].rpartition(":")
    assert host == service.value, "services reach each other by the Service's DNS name"
    container = pod_spec(service.value)["containers"][0]
    assert env_value(container, setting) == f"[::]:{port}"
    assert [p["containerPort"] for p in container["ports"] if p["name"] == "grpc"] == [int(port)]
    assert [p["port"] for p in find("Service", service.value)["spec"]["ports"]] == [int(port)]
    # Probes ask the plaintext port that answers health alone: the service port takes mutual TLS only.
    probe_port = int(config_data()["HEALTH_PORT"])
    assert [p["containerPort"] for p in container["ports"] if p["name"] == "probes"] == [probe_port]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["grpc"]["port"] == probe_port, probe


@pytest.mark.parametrize("deployment", [*(s.value for s in ServiceName), EDGE])
def test_every_api_deployment_has_an_autoscaler_and_a_disruption_budget(deployment: str) -> None:
    autoscaler = find("HorizontalPodAutoscaler", deployment)["spec"]
    assert autoscaler["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": deployment}
    assert autoscaler["minReplicas"] >= 2, "one pod is no redundancy"
    assert [metric["resource"]["name"] for metric in autoscaler["metrics"]] == ["cpu"]
    assert "replicas" not in find("Deployment", deployment)["spec"], "the autoscaler owns the count"
    budget = find("PodDisruptionBudget", deployment)["spec"]
    labels = find("Deployment", deployment)["spec"]["template"]["metadata"]["labels"]
    assert budget["selector"]["matchLabels"].items() <= labels.items()


def test_every_pod_runs_as_non_root_on_a_read_only_root_filesystem_with_a_bounded_scratch() -> None:
    for deployment, container in containers():
        pod = pod_spec(deployment)
        assert pod["securityContext"]["runAsNonRoot"] is True, deployment
        security = container["securityContext"]
        assert security["readOnlyRootFilesystem"] is True, deployment
        assert security["allowPrivilegeEscalation"] is False, deployment
        assert security["capabilities"]["drop"] == ["ALL"], deployment
        assert {"requests", "limits"} <= container["resources"].keys(), deployment
        scratch = [volume for volume in pod["volumes"] if "emptyDir" in volume]
        assert scratch and all("sizeLimit" in volume["emptyDir"] for volume in scratch), deployment


def test_pods_stop_gracefully_and_workers_get_the_longest_grace() -> None:
    graces = {name: pod_spec(name)["terminationGracePeriodSeconds"] for name, _ in containers()}
    for name, container in containers():
        pause = container.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
        # The pause, then the gRPC server's 5 s grace for calls in flight, must fit in the grace period.
        assert graces[name] >= pause + 10, name
    assert graces[WORKER] == max(graces.values())


def test_the_worker_scratch_space_holds_the_largest_upload_several_times_over() -> None:
    scratch = next(volume for volume in pod_spec(WORKER)["volumes"] if volume["name"] == "data")
    size_gib = int(scratch["emptyDir"]["sizeLimit"].removesuffix("Gi"))
    assert size_gib * 1024**3 >= 3 * Settings.model_fields["max_upload_bytes"].default
    container = pod_spec(WORKER)["containers"][0]
    assert container["command"] == ["videoforge", "worker"]
    mount = next(m for m in container["volumeMounts"] if m["name"] == "data")
    assert mount["mountPath"] == config_data()["VIDEOFORGE_DATA_DIR"]


def test_the_worker_scaler_follows_the_queue_the_workers_claim_from() -> None:
    scaled = find("ScaledObject", WORKER)["spec"]
    assert scaled["scaleTargetRef"]["name"] == WORKER
    assert "replicas" not in find("Deployment", WORKER)["spec"], "KEDA owns the count"
    (trigger,) = scaled["triggers"]
    assert trigger["type"] == "aws-sqs-queue"
    metadata = trigger["metadata"]
    # The URL comes from the workers' own environment, so the two can never disagree.
    assert metadata["queueURLFromEnv"] == "SQS_QUEUE_URL"
    assert {"configMapRef": {"name": CONFIG_MAP}} in pod_spec(WORKER)["containers"][0]["envFrom"]
    assert metadata["awsRegion"] == config_data()["SQS_REGION"]
    assert int(metadata["queueLength"]) >= 1
    authentication = find("TriggerAuthentication", trigger["authenticationRef"]["name"])["spec"]
    assert authentication["podIdentity"]["provider"] == "aws"


# Settings carried by the ConfigMap and the Secret.


def test_every_configmap_key_is_a_setting() -> None:
    assert set(config_data()) - setting_env_names().keys() == set()


def test_every_environment_variable_a_videoforge_container_sets_is_a_setting() -> None:
    names = setting_env_names()
    for deployment in videoforge_deployments():
        for container in pod_spec(deployment)["containers"]:
            assert {entry["name"] for entry in container.get("env", [])} - names.keys() == set(), deployment
            assert {"configMapRef": {"name": CONFIG_MAP}} in container["envFrom"], deployment


def test_every_secret_key_is_a_setting_or_a_file_a_configmap_setting_points_at() -> None:
    files = {
        value.removeprefix(f"{SECRETS_DIR}/")
        for name, value in config_data().items()
        if name.endswith("_FILE") and value.startswith(f"{SECRETS_DIR}/")
    }
    for key in secret_data():
        assert key in setting_env_names() or key in files, key
    assert files <= secret_data().keys()


def test_every_setting_production_needs_is_set() -> None:
    assert NOT_NEEDED_IN_PRODUCTION.keys() <= setting_env_names().keys(), "an exemption names no setting"
    provided = config_data().keys() | {key for key in secret_data() if key in setting_env_names()}
    assert sorted(required_settings() - provided) == []
    assert config_data()["QUEUE_BACKEND"] == "sqs"


def test_the_configmap_settings_are_valid_settings() -> None:
    values = {**config_data(), **{key: "placeholder" for key in secret_data() if key in setting_env_names()}}
    settings = render_script().settings_from(None, values)
    assert settings.queue_backend == "sqs"
    assert settings.media_base_url == config_data()["CDN_BASE_URL"]


def test_the_database_users_get_the_database_url_from_the_secret() -> None:
    for service in ("identity", "gallery", "job"):
        container = pod_spec(service)["containers"][0]
        assert env_value(container, "DATABASE_URL") == {"secretKeyRef": {"name": SECRET, "key": "DATABASE_URL"}}


@pytest.mark.parametrize(
    ("deployment", "setting"),
    [
        ("identity", "JWT_PRIVATE_KEY_FILE"),
        ("gallery", "CDN_PRIVATE_KEY_FILE"),
        ("job", "CDN_PRIVATE_KEY_FILE"),
        ("streaming", "CDN_PRIVATE_KEY_FILE"),
    ],
)
def test_each_service_finds_the_key_file_its_settings_name(deployment: str, setting: str) -> None:
    path = Path(config_data()[setting])
    pod = pod_spec(deployment)
    (mount,) = [m for m in pod["containers"][0]["volumeMounts"] if m["mountPath"] == str(path.parent)]
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    assert volume["secret"]["secretName"] == SECRET
    assert {"key": path.name, "path": path.name} in volume["secret"]["items"]


# The CloudFormation stack.


@functools.cache
def template() -> Manifest:
    # CloudFormation's short forms (!Ref, !Sub, ...) become plain tagged values: enough to read names.
    class Loader(yaml.SafeLoader):
        pass

    def tagged(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
        if isinstance(node, yaml.ScalarNode):
            return {suffix: loader.construct_scalar(node)}
        if isinstance(node, yaml.SequenceNode):
            return {suffix: loader.construct_sequence(node)}
        return {suffix: loader.construct_mapping(node)}  # type: ignore[arg-type]

    Loader.add_multi_constructor("!", tagged)
    return yaml.load(TEMPLATE.read_text(), Loader=Loader)  # a SafeLoader: no arbitrary objects


def test_the_cloudformation_template_passes_cfn_lint() -> None:
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    assert cfn_lint.exists(), "cfn-lint is not installed (it comes with moto[server] in the dev extra)"
    result = subprocess.run(
        [str(cfn_lint), "--format", "parseable", "--", str(TEMPLATE)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    # Exit status bits: 2 errors, 4 warnings, 8 informational; anything else is cfn-lint failing to run.
    assert result.returncode & ~(4 | 8) == 0, result.stdout + result.stderr


def test_the_template_holds_no_account_ids_or_passwords() -> None:
    text = TEMPLATE.read_text()
    assert re.findall(r"\b\d{12}\b", text) == []
    database = template()["Resources"]["Database"]["Properties"]
    assert database["ManageMasterUserPassword"] is True
    assert "MasterUserPassword" not in database
    assert database["StorageEncrypted"] is True
    without_default = [name for name, p in template()["Parameters"].items() if "Default" not in p]
    # Only what no default can know: the deployment's own origins, key, network.
    assert set(without_default) == {
        "AppOrigin",
        "EdgeOriginDomain",
        "CdnPublicKeyPem",
        "VpcId",
        "DatabaseSubnetIds",
        "DatabaseClientSecurityGroupId",
    }


def test_every_stack_output_named_like_a_setting_fills_that_configmap_key() -> None:
    settings = setting_env_names()
    outputs = {re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).upper() for name in template()["Outputs"]}
    named_like_settings = outputs & settings.keys()
    assert named_like_settings - config_data().keys() == set()
    # Every queue, bucket, identity and CDN value the ConfigMap needs comes out of the stack.
    from_stack = {name for name in required_settings() if name.startswith(("SQS_", "S3_", "CDN_", "JWT_"))}
    from_stack -= {"CDN_PRIVATE_KEY_FILE", "JWT_PRIVATE_KEY_FILE", "JWT_ROLE_CLAIM"}
    assert from_stack - named_like_settings == set()


def test_the_media_bucket_aborts_abandoned_multipart_uploads_and_expires_only_pending_uploads() -> None:
    bucket = template()["Resources"]["MediaBucket"]["Properties"]
    rules = {rule["Id"]: rule for rule in bucket["LifecycleConfiguration"]["Rules"]}
    aborting, expiring = rules["abort-abandoned-uploads"], rules["expire-unconfirmed-uploads"]
    assert (aborting["Prefix"], aborting["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"]) == (UPLOADS_ROOT, 1)
    # Only objects tagged pending: a rule on the whole prefix would expire the sources videos play from.
    key, value = PENDING_TAG.split("=")
    assert (expiring["Prefix"], expiring["TagFilters"]) == (UPLOADS_ROOT, [{"Key": key, "Value": value}])
    assert expiring["ExpirationInDays"] > 1  # after the platform's own sweep had its day


def test_queue_attempts_equal_the_dead_letter_redrive_count() -> None:
    redrive = template()["Resources"]["JobQueue"]["Properties"]["RedrivePolicy"]
    assert redrive["maxReceiveCount"] == {"Ref": "MaxReceiveCount"}
    assert int(config_data()["QUEUE_MAX_ATTEMPTS"]) == template()["Parameters"]["MaxReceiveCount"]["Default"]


# The edge's bootstrap.


@functools.cache
def render_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("render_edge_config", RENDER_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@functools.cache
def edge_config_map() -> Manifest:
    script = render_script()
    settings = script.settings_from(KUBERNETES / "config.yaml", {})
    return script.edge_config_map(settings, namespace="videoforge")


def test_the_edge_config_map_validates_and_fits_in_a_config_map() -> None:
    manifest = edge_config_map()
    kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
    size = len(manifest["data"]["envoy.yaml"]) + len(base64.b64decode(manifest["binaryData"]["videoforge.binpb"]))
    assert size < 1024 * 1024, "a ConfigMap holds at most 1 MiB"


def test_the_edge_deployment_mounts_its_bootstrap_where_envoy_reads_it() -> None:
    script = render_script()
    pod = pod_spec(EDGE)
    (container,) = pod["containers"]
    assert container["image"].startswith("envoyproxy/envoy:v1.40")
    config_path = container["args"][container["args"].index("--config-path") + 1]
    assert config_path == f"{script.CONFIG_DIR}/{script.BOOTSTRAP_KEY}"
    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == script.CONFIG_DIR]
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    assert volume["configMap"]["name"] == EDGE_CONFIG_MAP == edge_config_map()["metadata"]["name"]
    assert [p["containerPort"] for p in container["ports"] if p["name"] == "http"] == [int(config_data()["EDGE_PORT"])]


def test_the_edge_bootstrap_routes_to_the_services_by_their_dns_names_and_names_only_pod_paths() -> None:
    script = render_script()
    bootstrap = yaml.safe_load(edge_config_map()["data"]["envoy.yaml"])
    clusters = {cluster["name"]: cluster for cluster in bootstrap["static_resources"]["clusters"]}
    for service in ServiceName:
        address = clusters[service.value]["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
        socket = address["address"]["socket_address"]
        assert f"{socket['address']}:{socket['port_value']}" == config_data()[f"{service.value.upper()}_ADDRESS"]
        assert clusters[service.value]["type"] == "STRICT_DNS"
    listener = bootstrap["static_resources"]["listeners"][0]["address"]["socket_address"]
    assert (listener["address"], listener["port_value"]) == ("0.0.0.0", int(config_data()["EDGE_PORT"]))
    text = edge_config_map()["data"]["envoy.yaml"]
    assert str(ROOT) not in text and sys.prefix not in text, "a path of this machine reached the bootstrap"
    assert f"{script.CONFIG_DIR}/{script.DESCRIPTOR_KEY}" in text


def test_envoy_accepts_the_rendered_edge_bootstrap(tmp_path: Path, mesh_pki: MeshPki) -> None:
    script = render_script()
    manifest = edge_config_map()
    descriptor = tmp_path / script.DESCRIPTOR_KEY
    descriptor.write_bytes(base64.b64decode(manifest["binaryData"][script.DESCRIPTOR_KEY]))
    # Back to this machine's paths, as the pod's mounts would provide them.
    text = manifest["data"][script.BOOTSTRAP_KEY]
    text = text.replace(f"{script.CONFIG_DIR}/{script.DESCRIPTOR_KEY}", str(descriptor))
    text = text.replace(script.IMAGE_CA_BUNDLE, certifi.where())
    for setting, path in mesh_pki.settings("edge").items():
        text = text.replace(config_data()[setting.upper()], str(path))
    bootstrap = tmp_path / script.BOOTSTRAP_KEY
    bootstrap.write_text(text)
    result = subprocess.run(
        [envoy_binary(), "--mode", "validate", "--config-path", str(bootstrap), "--disable-hot-restart"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


# The mesh: each pod's certificate, and network policies for exactly the calls the allow-list names.

MESH_DIR = "/etc/videoforge/mesh"
MESH_SCRIPT = ROOT / "deploy" / "render_mesh_secrets.py"
# The identity each Deployment's pods have in the mesh.
IDENTITY_OF = {**{service.value: service.value for service in ServiceName}, WORKER: "worker", EDGE: "edge"}


@functools.cache
def mesh_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("render_mesh_secrets", MESH_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_mesh_settings_name_the_files_of_the_mounted_secret() -> None:
    for setting, key in (("MESH_CA_FILE", "ca.crt"), ("MESH_CERT_FILE", "tls.crt"), ("MESH_KEY_FILE", "tls.key")):
        assert config_data()[setting] == f"{MESH_DIR}/{key}"


@pytest.mark.parametrize("deployment", list(IDENTITY_OF))
def test_every_pod_mounts_the_certificate_of_its_own_identity_readable_by_its_group_alone(deployment: str) -> None:
    pod = pod_spec(deployment)
    (container,) = pod["containers"]
    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == MESH_DIR]
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    assert volume["secret"]["secretName"] == mesh_script().secret_name(IDENTITY_OF[deployment])
    assert volume["secret"]["defaultMode"] == 0o440 and mount["readOnly"] is True
    assert pod["securityContext"]["fsGroup"] == pod["securityContext"]["runAsGroup"]


def test_the_rendered_mesh_secrets_validate_name_their_identity_and_never_hold_the_ca_key(tmp_path: Path) -> None:
    script = mesh_script()
    secrets = script.mesh_secrets(tmp_path / "pki", namespace="videoforge")
    assert {secret["metadata"]["name"] for secret in secrets} == {script.secret_name(i) for i in IDENTITY_OF.values()}
    ca_key = (tmp_path / "pki" / "ca.key").read_bytes()
    for secret in secrets:
        kubernetes_validate.validate(secret, KUBERNETES_VERSION, strict=True)
        data = {key: base64.b64decode(value) for key, value in secret["data"].items()}
        assert data.keys() == {"tls.crt", "tls.key", "ca.crt"} and ca_key not in data.values()
        names = x509.load_pem_x509_certificate(data["tls.crt"]).extensions.get_extension_for_class(
            x509.SubjectAlternativeName
        )
        (identity,) = names.value.get_values_for_type(x509.DNSName)
        assert script.secret_name(identity) == secret["metadata"]["name"]
    assert script.mesh_secrets(tmp_path / "pki", namespace="videoforge") == secrets, "a second run reuses them"


def expected_ingress() -> dict[str, set[str]]:
    """Deployment -> the Deployments whose pods the allow-list lets call it (people's tools have no pod)."""
    deployment_of = {identity: deployment for deployment, identity in IDENTITY_OF.items()}
    callers: dict[str, set[str]] = {service.value: set() for service in ServiceName}
    for service in served_services():
        if service.full_name.startswith("grpc."):
            continue  # health and reflection: any identity, on every server
        server = "streaming" if service.full_name.startswith("envoy.") else service.full_name.split(".")[1]
        for method in service.methods:
            allowed = allowed_callers(f"/{service.full_name}/{method.name}")
            callers[server] |= {deployment_of[identity] for identity in allowed if identity in deployment_of}
    return callers


def network_policies() -> dict[str, Manifest]:
    """Policies by the component their pods are, "" for the ones that select every pod."""
    policies = [document for _, document in all_manifests() if document["kind"] == "NetworkPolicy"]
    return {
        p["spec"]["podSelector"].get("matchLabels", {}).get("app.kubernetes.io/component", p["metadata"]["name"]): p
        for p in policies
    }


@pytest.mark.parametrize("service", list(ServiceName), ids=str)
def test_network_policies_let_in_exactly_the_callers_the_allow_list_names(service: ServiceName) -> None:
    (rule,) = network_policies()[service.value]["spec"]["ingress"]
    sources = {peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"] for peer in rule["from"]}
    assert sources == expected_ingress()[service.value]
    port = int(config_data()[f"{service.value.upper()}_ADDRESS"].rpartition(":")[2])
    assert rule["ports"] == [{"protocol": "TCP", "port": port}]


def test_everything_else_is_denied_and_only_the_edge_takes_outside_traffic() -> None:
    policies = network_policies()
    assert policies["default-deny-ingress"]["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"]}
    assert policies[EDGE]["spec"]["ingress"] == [
        {"ports": [{"protocol": "TCP", "port": int(config_data()["EDGE_PORT"])}]}
    ]
    assert WORKER not in policies, "workers take no connections"
    (metrics,) = policies["metrics"]["spec"]["ingress"]
    assert {port["port"] for port in metrics["ports"]} == {
        int(config_data()["METRICS_PORT"]),
        int(config_data()["EDGE_STATS_PORT"]),
    }
