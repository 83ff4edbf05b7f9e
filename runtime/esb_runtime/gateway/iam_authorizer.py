"""AWS_IAM on API routes: SigV4 with service execute-api and the box's credentials, and the caller it names."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import Any, Callable

from esb_runtime.gateway import sigv4
from esb_runtime.gateway.lambda_authorizer import Verdict
from esb_runtime.gateway.request import IncomingRequest

log = logging.getLogger(__name__)
SERVICE = "execute-api"


def iam_caller(credentials: sigv4.Credentials, account_id: str) -> dict[str, Any]:
    """requestContext.authorizer.iam of a payload 2.0 event (HTTP API routes, function URLs): the box's keys are
    the account's root, as `aws sts get-caller-identity` would say for root keys."""
    return {
        "accessKey": credentials.access_key_id, "accountId": account_id, "callerId": credentials.access_key_id,
        "cognitoIdentity": None, "principalOrgId": None, "userArn": f"arn:aws:iam::{account_id}:root",
        "userId": account_id,
    }


def iam_identity(credentials: sigv4.Credentials, account_id: str) -> dict[str, Any]:
    """The fields of requestContext.identity (payload 1.0) that API Gateway fills for a signed caller."""
    return {"accessKey": credentials.access_key_id, "accountId": account_id, "caller": account_id,
            "user": account_id, "userArn": f"arn:aws:iam::{account_id}:root"}


def _refused(rest: bool, exc: sigv4.SignatureError) -> Verdict:
    # REST APIs say why (as API Gateway does: "Missing Authentication Token", "...signature ... does not match...");
    # HTTP APIs answer a bare Forbidden.
    return Verdict(False, 403, {"message": exc.message if rest else "Forbidden"})


class IamAuthorizer:
    """Two steps, so an unsigned upload is refused before its body is read: the headers, then the signature."""

    def __init__(self, credentials: sigv4.Credentials, clock: Callable[[], float] = time.time) -> None:
        self._credentials = credentials
        self._clock = clock

    def check_headers(self, request: IncomingRequest, *, rest: bool, payload: str, account_id: str) -> Verdict:
        try:
            sigv4.check_headers(request, self._credentials, service=SERVICE, now=self._clock())
        except sigv4.SignatureError as exc:
            log.info("AWS_IAM route refused: %s", exc.message)
            return _refused(rest, exc)
        if payload == "2.0":
            return Verdict(True, authorizer={"iam": iam_caller(self._credentials, account_id)},
                           pending_signature=True)
        return Verdict(True, identity=iam_identity(self._credentials, account_id), pending_signature=True)

    def check_signature(self, verdict: Verdict, request: IncomingRequest, *, rest: bool) -> Verdict:
        """The whole signature, body included, of a request whose headers passed `check_headers`."""
        if not verdict.pending_signature:
            return verdict
        try:
            sigv4.verify(request, self._credentials, service=SERVICE, now=self._clock())
        except sigv4.SignatureError as exc:
            log.info("AWS_IAM route refused: %s", exc.message)
            return _refused(rest, exc)
        return replace(verdict, pending_signature=False)
