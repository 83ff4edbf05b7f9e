"""End to end: `esb up -d` on fixtures/auth — the template's authorizers decide, tokens come from boto3 cognito-idp."""

from __future__ import annotations

from typing import Any, Iterator

import boto3
import pytest

from boxkit import Box, copy_app, running_box

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Box]:
    project = copy_app("auth", tmp_path_factory.mktemp("auth"))
    # One gateway worker: usage plans count per gateway process, so the quota test needs them all in one.
    with running_box(project, env={"ESB_GATEWAY_WORKERS": "1"}) as running:
        yield running


@pytest.fixture(scope="module")
def tokens(box: Box) -> dict[str, Any]:
    """InitiateAuth as an app does it: boto3's cognito-idp client pointed at the box."""
    auth, aws = box.status["auth"], box.status["aws"]
    client = boto3.client("cognito-idp", endpoint_url=auth["cognito_endpoint"], region_name=aws["region"],
                          verify=box.ca_file, aws_access_key_id="unused", aws_secret_access_key="unused")
    answer = client.initiate_auth(ClientId=auth["login_client"], AuthFlow="USER_PASSWORD_AUTH",
                                  AuthParameters={"USERNAME": auth["username"], "PASSWORD": auth["password"]})
    with pytest.raises(client.exceptions.NotAuthorizedException):
        client.initiate_auth(ClientId=auth["login_client"], AuthFlow="USER_PASSWORD_AUTH",
                             AuthParameters={"USERNAME": auth["username"], "PASSWORD": "wrong"})
    return answer["AuthenticationResult"]


def test_cognito_default_authorizer(box: Box, tokens: dict[str, Any]) -> None:
    assert box.client.get("/cognito").status_code == 401
    answer = box.client.get("/cognito", headers={"Authorization": tokens["IdToken"]})
    assert answer.status_code == 200
    claims = answer.json()["authorizer"]["claims"]
    assert claims["cognito:username"] == box.status["auth"]["username"]
    assert claims["iss"].startswith("https://cognito-idp.") and claims["token_use"] == "id"
    jwks = box.client.get(f"/_esb/cognito-idp/{claims['iss'].rsplit('/', 1)[1]}/.well-known/jwks.json").json()
    assert jwks["keys"][0]["alg"] == "RS256" and "d" not in jwks["keys"][0]  # public parts only


def test_open_routes_answer_without_a_token(box: Box) -> None:
    assert box.client.get("/open").status_code == 200
    assert box.client.get("/public").status_code == 200  # Authorizer: NONE under the DefaultAuthorizer


def test_http_api_jwt_authorizer(box: Box, tokens: dict[str, Any]) -> None:
    assert box.client.get("/jwt").status_code == 401
    assert box.client.get("/jwt", headers={"Authorization": "Bearer not-a-jwt"}).status_code == 401
    answer = box.client.get("/jwt", headers={"Authorization": f"Bearer {tokens['IdToken']}"})
    assert answer.status_code == 200
    assert answer.json()["authorizer"]["jwt"]["claims"]["cognito:username"] == box.status["auth"]["username"]


def test_lambda_token_authorizer(box: Box) -> None:
    allowed = box.client.get("/token", headers={"Authorization": "allow-ada"})
    assert allowed.status_code == 200
    assert allowed.json()["authorizer"]["who"] == "ada" and allowed.json()["authorizer"]["principalId"] == "allow-ada"
    assert box.client.get("/token", headers={"Authorization": "deny-bob"}).status_code == 403
    assert box.client.get("/token", headers={"Authorization": "unauthorized"}).status_code == 401
    assert box.client.get("/token").status_code == 401


def test_aws_iam_route_takes_requests_signed_by_botocore(box: Box) -> None:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    aws = box.status["aws"]
    credentials = Credentials(aws["access_key_id"], aws["secret_access_key"])

    def signed(body: bytes, secret: Credentials = credentials) -> dict[str, str]:
        request = AWSRequest(method="POST", url=f"{box.url}/iam", data=body)
        SigV4Auth(secret, "execute-api", aws["region"]).add_auth(request)
        return dict(request.headers.items())

    answer = box.client.post("/iam", content=b'{"n": 1}', headers=signed(b'{"n": 1}'))
    assert answer.status_code == 200, answer.text
    identity = answer.json()["identity"]
    assert identity["accessKey"] == aws["access_key_id"] and identity["userArn"].endswith(":root")
    assert box.client.post("/iam", content=b"{}").json() == {"message": "Missing Authentication Token"}
    wrong = Credentials(aws["access_key_id"], "not-the-secret")
    assert box.client.post("/iam", content=b"{}", headers=signed(b"{}", wrong)).status_code == 403
    assert box.client.post("/iam", content=b"{}", headers=signed(b"{tampered}")).status_code == 403


def test_usage_plan_quota_per_api_key(box: Box) -> None:
    key = {"x-api-key": box.status["auth"]["api_key"]}
    assert box.client.get("/keyed").status_code == 403
    assert [box.client.get("/keyed", headers=key).status_code for _ in range(2)] == [200, 200]
    answer = box.client.get("/keyed", headers=key)
    assert answer.status_code == 429 and answer.json() == {"message": "Limit Exceeded"}


def test_refresh_token_auth_with_boto3(box: Box, tokens: dict[str, Any]) -> None:
    auth, aws = box.status["auth"], box.status["aws"]
    client = boto3.client("cognito-idp", endpoint_url=auth["cognito_endpoint"], region_name=aws["region"],
                          verify=box.ca_file, aws_access_key_id="unused", aws_secret_access_key="unused")
    renewed = client.initiate_auth(ClientId=auth["login_client"], AuthFlow="REFRESH_TOKEN_AUTH",
                                   AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"]})["AuthenticationResult"]
    assert box.client.get("/cognito", headers={"Authorization": renewed["IdToken"]}).status_code == 200
    with pytest.raises(client.exceptions.NotAuthorizedException):
        client.initiate_auth(ClientId=auth["login_client"], AuthFlow="REFRESH_TOKEN_AUTH",
                             AuthParameters={"REFRESH_TOKEN": "not-a-refresh-token"})
