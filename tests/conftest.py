"""Fixtures shared by every tier: real servers started per session, test media made on demand."""

pytest_plugins = [
    "tests.fixtures.postgres",
    "tests.fixtures.sqs",
    "tests.fixtures.envoy",
    "tests.fixtures.s3",
    "tests.fixtures.media",
    "tests.fixtures.jwks",
]
pytest_plugins.append("tests.fixtures.platform")
