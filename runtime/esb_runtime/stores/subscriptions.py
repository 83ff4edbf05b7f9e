"""SNS subscription ARNs survive replays: a replayed Subscribe is renamed to the ARN the live box answered.

moto makes a random ARN per Subscribe, so without this a journaled Unsubscribe (or SetSubscriptionAttributes)
would name an ARN the replayed subscription no longer has and miss, and a client holding the ARN from
before a restart could no longer unsubscribe. Renaming keeps one ARN for a subscription's whole life, so
records of every generation (before and after any number of restarts and compactions) find it.
"""

from __future__ import annotations

import re
from typing import Any, Callable

_ARN = re.compile(rb'<SubscriptionArn>(arn:[^<]+)</SubscriptionArn>|"SubscriptionArn"\s*:\s*"(arn:[^"]+)"')
KEY = "SubscriptionArn"


def answered_arn(body: bytes) -> str | None:
    """The subscription ARN in a Subscribe answer (query protocol XML, or JSON)."""
    found = _ARN.search(body)
    if not found:
        return None
    return (found.group(1) or found.group(2)).decode()


def _backends() -> Any:
    from moto.sns.models import sns_backends

    return sns_backends


def keep_arn(journaled: str, fresh: str, backends: Callable[[], Any] = _backends) -> None:
    """Give the subscription moto just made as `fresh` the journaled ARN (same topic: same account and region)."""
    if journaled == fresh:
        return
    _, _, _, region, account, _ = fresh.split(":", 5)
    subscriptions = backends()[account][region].subscriptions
    subscription = subscriptions.pop(fresh, None)
    if subscription is not None:
        subscription.arn = journaled
        subscriptions[journaled] = subscription
