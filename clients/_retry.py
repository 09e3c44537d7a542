"""When a failed call is sent again, and how long the client waits first.

A 503 means the server is loading or shedding load, and a refused connection means it is
not listening yet (a rolling restart): both pass. Any other 4xx/5xx is the answer and is
raised at once. A call that may change state is resent only when the server cannot have
seen it (the connection was never made); every call the API offers is safe or idempotent,
so today that rule guards the future rather than a route.
"""

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from clients._requests import Call

RETRYABLE_STATUS = 503


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to resend a call that failed in passing.

    Args:
        max_attempts: sends in all, the first included (1 turns retrying off).
        backoff_s: the wait before the second send; it doubles for each send after.
        max_backoff_s: the longest wait the doubling reaches.
        max_retry_after_s: the longest wait a server's `Retry-After` may ask for.
        jitter: scale each backoff by a random factor in [0.5, 1], so that many clients
            refused at once do not come back at once.
    """

    max_attempts: int = 3
    backoff_s: float = 0.25
    max_backoff_s: float = 8.0
    max_retry_after_s: float = 30.0
    jitter: bool = True

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1 (1 sends each call once)")

    def should_retry_status(self, status: int, attempt: int) -> bool:
        return status == RETRYABLE_STATUS and attempt < self.max_attempts

    def should_retry_error(
        self, error: httpx.TransportError, attempt: int, idempotent: bool
    ) -> bool:
        if attempt >= self.max_attempts:
            return False
        if isinstance(error, httpx.ConnectError | httpx.ConnectTimeout):
            return True  # nothing reached the server
        # A read that timed out is reported, not multiplied: the server may still be working.
        return idempotent and not isinstance(error, httpx.TimeoutException)

    def delay_s(self, attempt: int, retry_after: str | None = None) -> float:
        """The wait after failed send number `attempt` (1-based)."""
        asked = _parse_retry_after(retry_after)
        if asked is not None:
            return min(asked, self.max_retry_after_s)
        delay = min(self.backoff_s * 2.0 ** (attempt - 1), self.max_backoff_s)
        return delay * random.uniform(0.5, 1.0) if self.jitter else delay


NO_RETRIES = RetryPolicy(max_attempts=1)


def _parse_retry_after(value: str | None) -> float | None:
    """Seconds from a `Retry-After` header: delta-seconds or an HTTP date; None if unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def wait_before_resending(
    policy: RetryPolicy,
    call: Call,
    attempt: int,
    *,
    response: httpx.Response | None = None,
    error: httpx.TransportError | None = None,
) -> float | None:
    """Seconds to wait before sending `call` again after send number `attempt`; None: don't."""
    if call.is_probe:
        return None
    if error is not None and policy.should_retry_error(error, attempt, call.idempotent):
        return policy.delay_s(attempt)
    if (
        response is not None
        and call.idempotent
        and response.status_code not in call.answers
        and policy.should_retry_status(response.status_code, attempt)
    ):
        return policy.delay_s(attempt, response.headers.get("Retry-After"))
    return None
