"""The job queue on Amazon SQS with a dead-letter queue: the adapter for AWS deployments.

Leases are visibility timeouts; the attempt number is SQS's ``ApproximateReceiveCount``. The redrive
policy set by ``ensure_queues`` moves a message whose last allowed delivery lapsed to the dead-letter
queue on the next receive; its ``maxReceiveCount`` must equal the adapter's ``max_attempts``.

Fencing: SQS does not reliably refuse an older receipt handle once a message was delivered again.
moto accepts every handle a message ever had, for ``ChangeMessageVisibility`` and ``DeleteMessage``
alike, and acts on the current delivery; AWS documents a ``DeleteMessage`` with an older handle as
succeeding. So the receipt cannot fence, and this adapter keeps each claim's lease deadline on its
own monotonic clock instead, started when the receive request was sent (never after SQS starts the
visibility timeout). It acts on a claim only while more than ``lease_margin_seconds`` remain:
before that deadline SQS cannot have handed the message to anyone else, and the margin covers the
request's trip to SQS. Hence only the instance that claimed a message can renew or settle it.

Cancel: SQS deletes a message only by a receipt handle from receiving it, so ``cancel`` cannot
withdraw one and returns False; the job service's own state is what stops a cancelled job.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.client import BaseClient
from botocore.exceptions import ClientError

from videoforge.kit.tracing import with_trace_context
from videoforge.queue.port import LEASES_EXHAUSTED, ClaimedJob, DeadLetter, JobQueue, RetryPolicy

MAX_VISIBILITY_SECONDS = 43_200  # SQS limit on a visibility timeout (12 hours)
MAX_DELAY_SECONDS = 900  # SQS limit on DelaySeconds (15 minutes)

# How long a claim is held while it is moved to the dead-letter queue, and a dead letter while listed.
_HOLD_SECONDS = 30

# Error codes meaning the delivery is gone: deleted, no longer in flight, or held past SQS's limit.
# The JSON protocol may report the long form of a code.
_LEASE_LOST_CODES = frozenset(
    {
        "ReceiptHandleIsInvalid",
        "InvalidParameterValue",
        "MessageNotInflight",
        "AWS.SimpleQueueService.MessageNotInflight",
    }
)


def ensure_queues(client: BaseClient, name: str, *, max_attempts: int = 5) -> tuple[str, str]:
    """Creates (or finds, when the attributes match) the queue ``name`` and its dead-letter queue
    ``name-dlq``, with a redrive policy after ``max_attempts`` deliveries; returns both URLs."""
    dlq_url = client.create_queue(
        QueueName=f"{name}-dlq",
        Attributes={"MessageRetentionPeriod": "1209600"},  # 14 days, SQS's longest: time to investigate
    )["QueueUrl"]
    dlq_arn = client.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_attempts)}
    url = client.create_queue(QueueName=name, Attributes={"RedrivePolicy": json.dumps(redrive)})["QueueUrl"]
    return url, dlq_url


class SqsJobQueue(JobQueue):
    """Runs on the caller's boto3 SQS client (thread-safe; its blocking calls run in worker threads).

    ``receive_wait_seconds`` > 0 long-polls: a short poll asks only some SQS servers and may come back
    empty while messages wait."""

    def __init__(
        self,
        client: BaseClient,
        queue_url: str,
        dlq_url: str,
        *,
        max_attempts: int = 5,
        backoff_base: float = 2.0,
        backoff_cap: float = 300.0,
        receive_wait_seconds: int = 1,
        lease_margin_seconds: float = 0.25,
    ) -> None:
        if backoff_cap > MAX_VISIBILITY_SECONDS:
            raise ValueError(f"backoff_cap must be at most {MAX_VISIBILITY_SECONDS} s on SQS")
        self._client = client
        self._queue_url = queue_url
        self._dlq_url = dlq_url
        self._retry = RetryPolicy(max_attempts, backoff_base, backoff_cap)
        self._receive_wait_seconds = receive_wait_seconds
        self._lease_margin_seconds = lease_margin_seconds
        self._lease_deadlines: dict[str, float] = {}  # receipt handle -> time.monotonic() deadline

    async def enqueue(self, job_id: str, payload: Mapping[str, Any], *, delay_seconds: float = 0) -> None:
        if not 0 <= delay_seconds <= MAX_DELAY_SECONDS:
            raise ValueError(f"delay_seconds must be within 0..{MAX_DELAY_SECONDS} on SQS")
        await asyncio.to_thread(
            self._client.send_message,
            QueueUrl=self._queue_url,
            MessageBody=json.dumps({"job_id": job_id, "payload": with_trace_context(payload)}),
            DelaySeconds=math.ceil(delay_seconds),
        )

    async def claim(self, worker_id: str, lease_seconds: float) -> ClaimedJob | None:
        _check_lease_length(lease_seconds)
        sent_at, sent_at_wall = time.monotonic(), datetime.now(UTC)
        response = await asyncio.to_thread(
            self._client.receive_message,
            QueueUrl=self._queue_url,
            MaxNumberOfMessages=1,
            VisibilityTimeout=math.ceil(lease_seconds),
            WaitTimeSeconds=self._receive_wait_seconds,
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        )
        messages = response.get("Messages", [])
        if not messages:
            return None
        message = messages[0]
        body = json.loads(message["Body"])
        receipt = message["ReceiptHandle"]
        self._lease_deadlines[receipt] = sent_at + lease_seconds
        return ClaimedJob(
            job_id=body["job_id"],
            payload=body["payload"],
            attempt=int(message["Attributes"]["ApproximateReceiveCount"]),
            receipt=receipt,
            lease_expires_at=sent_at_wall + timedelta(seconds=lease_seconds),
        )

    async def renew(self, claim: ClaimedJob, lease_seconds: float) -> bool:
        _check_lease_length(lease_seconds)
        if not self._lease_held(claim):
            return False
        sent_at = time.monotonic()
        if not await self._change_visibility(claim, math.ceil(lease_seconds)):
            return False
        self._lease_deadlines[claim.receipt] = sent_at + lease_seconds
        return True

    async def complete(self, claim: ClaimedJob) -> bool:
        if not self._lease_held(claim):
            return False
        try:
            await asyncio.to_thread(self._client.delete_message, QueueUrl=self._queue_url, ReceiptHandle=claim.receipt)
        except ClientError as error:
            if _error_code(error) not in _LEASE_LOST_CODES:
                raise
            return False
        finally:
            self._lease_deadlines.pop(claim.receipt, None)
        return True

    async def fail(self, claim: ClaimedJob, *, error: str, retryable: bool) -> bool:
        if not retryable or self._retry.exhausted_by(claim.attempt):
            return await self._dead_letter(claim, error)
        if not self._lease_held(claim):
            return False
        # The message stays invisible for the backoff, then is received again as the next attempt.
        retried = await self._change_visibility(claim, math.ceil(self._retry.backoff(claim.attempt)))
        self._lease_deadlines.pop(claim.receipt, None)
        return retried

    async def cancel(self, job_id: str) -> bool:
        return False

    async def dead_letters(self, *, limit: int = 100) -> list[DeadLetter]:
        # SQS has no peek: receive every dead letter (hidden meanwhile), then make them visible again.
        messages = await self._receive_dead_letters(limit)
        await self._release(messages)
        return [self._parse_dead_letter(message["Body"]) for message in messages]

    async def discard_dead_letters(self, job_ids: list[str]) -> int:
        wanted = set(job_ids)
        messages = await self._receive_dead_letters(1000)
        matched = [m for m in messages if self._parse_dead_letter(m["Body"]).job_id in wanted]
        for message in matched:
            await asyncio.to_thread(
                self._client.delete_message, QueueUrl=self._dlq_url, ReceiptHandle=message["ReceiptHandle"]
            )
        await self._release([m for m in messages if m not in matched])
        return len(matched)

    async def _receive_dead_letters(self, limit: int) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        while len(messages) < limit:
            response = await asyncio.to_thread(
                self._client.receive_message,
                QueueUrl=self._dlq_url,
                MaxNumberOfMessages=min(10, limit - len(messages)),
                VisibilityTimeout=_HOLD_SECONDS,
                WaitTimeSeconds=self._receive_wait_seconds,
            )
            batch = response.get("Messages", [])
            if not batch:
                break
            messages.extend(batch)
        return messages

    async def _release(self, messages: list[dict[str, Any]]) -> None:
        """Makes received dead letters visible again at once."""
        for start in range(0, len(messages), 10):
            entries = [
                {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"], "VisibilityTimeout": 0}
                for index, message in enumerate(messages[start : start + 10])
            ]
            await asyncio.to_thread(
                self._client.change_message_visibility_batch, QueueUrl=self._dlq_url, Entries=entries
            )

    async def depth(self) -> int:
        response = await asyncio.to_thread(
            self._client.get_queue_attributes,
            QueueUrl=self._queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )
        return sum(int(count) for count in response["Attributes"].values())

    async def oldest_waiting_age(self) -> float | None:
        # SQS publishes ApproximateAgeOfOldestMessage to CloudWatch only, not as a queue attribute: read it (and
        # scale on it) there.
        return None

    async def _dead_letter(self, claim: ClaimedJob, error: str) -> bool:
        # Hold the lease first so it cannot lapse between the send to the DLQ and the delete; if the
        # delete still fails the job is dead-lettered and delivered again: at least once, never lost.
        if not await self.renew(claim, _HOLD_SECONDS):
            return False
        body = {"job_id": claim.job_id, "payload": claim.payload, "attempts": claim.attempt, "error": error}
        await asyncio.to_thread(self._client.send_message, QueueUrl=self._dlq_url, MessageBody=json.dumps(body))
        return await self.complete(claim)

    def _parse_dead_letter(self, raw_body: str) -> DeadLetter:
        body = json.loads(raw_body)
        # A message the redrive policy moved carries no reason: each of its deliveries lapsed.
        return DeadLetter(
            job_id=body["job_id"],
            payload=body["payload"],
            attempts=body.get("attempts", self._retry.max_attempts),
            error=body.get("error", LEASES_EXHAUSTED),
        )

    def _lease_held(self, claim: ClaimedJob) -> bool:
        deadline = self._lease_deadlines.get(claim.receipt)
        if deadline is None:
            return False
        if time.monotonic() + self._lease_margin_seconds < deadline:
            return True
        del self._lease_deadlines[claim.receipt]
        return False

    async def _change_visibility(self, claim: ClaimedJob, seconds: int) -> bool:
        try:
            await asyncio.to_thread(
                self._client.change_message_visibility,
                QueueUrl=self._queue_url,
                ReceiptHandle=claim.receipt,
                VisibilityTimeout=seconds,
            )
        except ClientError as error:
            if _error_code(error) not in _LEASE_LOST_CODES:
                raise
            self._lease_deadlines.pop(claim.receipt, None)
            return False
        return True


def _check_lease_length(lease_seconds: float) -> None:
    if not 0 < lease_seconds <= MAX_VISIBILITY_SECONDS:
        raise ValueError(f"lease_seconds must be within 0..{MAX_VISIBILITY_SECONDS} on SQS")


def _error_code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")
