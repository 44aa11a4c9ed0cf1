#!/usr/bin/env python3
"""A second, independent OAuth client against a running Latchkey: Debian's
python3-requests-oauthlib (OAuth2Session + LegacyApplicationClient, i.e. the resource owner
password credentials grant of RFC 6749 §4.3), then refresh, the API call and the failure
paths. Driven by test/clients/password-grant.test.ts, which starts the server and passes:

  LATCHKEY_URL            base URL of the server (http://127.0.0.1:PORT)
  LATCHKEY_CLIENT_ID      a confidential client allowed password and refresh_token
  LATCHKEY_CLIENT_SECRET  its secret
  LATCHKEY_HUDDLE_ID      a client registered with refresh_without_secret
  LATCHKEY_HUDDLE_SECRET  its secret
  LATCHKEY_USERNAME       a user's e-mail
  LATCHKEY_PASSWORD       that user's password
  LATCHKEY_EXPIRES_IN     the access-token lifetime the server's profile promises

Prints one JSON object describing each step on stdout; exits 0 when every check passed,
1 with one line on stderr otherwise.
"""
import json
import os
import sys

# oauthlib refuses plain http unless told otherwise; the test server listens on loopback.
os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")

from oauthlib.oauth2 import InvalidClientError, InvalidGrantError, LegacyApplicationClient  # noqa: E402
from requests.auth import HTTPBasicAuth  # noqa: E402
from requests_oauthlib import OAuth2Session  # noqa: E402


def env(name):
    value = os.environ.get(name)
    if not value:
        raise SystemExit(f"password_grant.py: {name} is not set")
    return value


BASE = env("LATCHKEY_URL").rstrip("/")
CLIENT_ID = env("LATCHKEY_CLIENT_ID")
CLIENT_SECRET = env("LATCHKEY_CLIENT_SECRET")
HUDDLE_ID = env("LATCHKEY_HUDDLE_ID")
HUDDLE_SECRET = env("LATCHKEY_HUDDLE_SECRET")
USERNAME = env("LATCHKEY_USERNAME")
PASSWORD = env("LATCHKEY_PASSWORD")
EXPIRES_IN = int(env("LATCHKEY_EXPIRES_IN"))

steps = {}


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def check_token(token, label):
    check(isinstance(token.get("access_token"), str) and token["access_token"], f"{label}: no access_token in {token!r}")
    check(isinstance(token.get("refresh_token"), str) and token["refresh_token"], f"{label}: no refresh_token in {token!r}")
    check(token.get("token_type") == "Bearer", f"{label}: token_type is {token.get('token_type')!r}")
    check(token.get("expires_in") == EXPIRES_IN, f"{label}: expires_in is {token.get('expires_in')!r}, want {EXPIRES_IN}")


def user_of(session):
    response = session.get(f"{BASE}/api/user")
    check(response.status_code == 200, f"GET /api/user answered {response.status_code}: {response.text[:200]}")
    user = response.json()
    check(user.get("email") == USERNAME, f"GET /api/user returned {user!r}")
    return user


def main():
    # 1. Password grant with HTTP Basic client authentication (requests-oauthlib's default).
    session = OAuth2Session(client=LegacyApplicationClient(client_id=CLIENT_ID))
    token = session.fetch_token(
        token_url=f"{BASE}/oauth/token",
        username=USERNAME,
        password=PASSWORD,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
    )
    check_token(token, "password grant (Basic)")
    steps["password_basic"] = {"token_type": token["token_type"], "expires_in": token["expires_in"], "scope": token.get("scope")}

    # 2. The token works at the identity endpoint (Authorization: Bearer …).
    steps["api_user"] = user_of(session)

    # 3. Refresh (client_secret_basic): a new pair; the used refresh token is dead.
    first_refresh = token["refresh_token"]
    refreshed = session.refresh_token(f"{BASE}/oauth/token", auth=HTTPBasicAuth(CLIENT_ID, CLIENT_SECRET))
    check_token(refreshed, "refresh")
    check(refreshed["access_token"] != token["access_token"], "refresh returned the same access token")
    check(refreshed["refresh_token"] != first_refresh, "refresh returned the same refresh token")
    user_of(session)
    try:
        session.refresh_token(f"{BASE}/oauth/token", refresh_token=first_refresh, auth=HTTPBasicAuth(CLIENT_ID, CLIENT_SECRET))
        raise AssertionError("a used refresh token was accepted")
    except InvalidGrantError as err:
        steps["reused_refresh_token"] = err.error

    # 4. Automatic refresh: once the client believes its token expired it refreshes by itself
    #    (client_secret_post this time) and retries the call.
    updates = []
    auto = OAuth2Session(
        client=LegacyApplicationClient(client_id=CLIENT_ID),
        auto_refresh_url=f"{BASE}/oauth/token",
        auto_refresh_kwargs={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
        token_updater=updates.append,
    )
    auto.fetch_token(
        token_url=f"{BASE}/oauth/token",
        username=USERNAME,
        password=PASSWORD,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        include_client_id=True,
    )
    # (expires_at 0 would read as "no expiry" to oauthlib; 1 is long past.)
    auto.token = dict(auto.token, expires_at=1, expires_in=-1)
    user_of(auto)
    check(len(updates) == 1, f"expected one automatic refresh, saw {len(updates)}")
    check_token(updates[0], "automatic refresh")
    steps["auto_refresh"] = len(updates)

    # 5. Huddle's way: password grant at POST /token with the secret in the body, then
    #    POST /refresh with client_id alone (the client has refresh_without_secret).
    huddle = OAuth2Session(client=LegacyApplicationClient(client_id=HUDDLE_ID))
    huddle_token = huddle.fetch_token(
        token_url=f"{BASE}/token",
        username=USERNAME,
        password=PASSWORD,
        client_id=HUDDLE_ID,
        client_secret=HUDDLE_SECRET,
        include_client_id=True,
    )
    check_token(huddle_token, "password grant at /token")
    huddle_refreshed = huddle.refresh_token(f"{BASE}/refresh", client_id=HUDDLE_ID)
    check_token(huddle_refreshed, "refresh at /refresh without a secret")
    user_of(huddle)
    steps["huddle_refresh_without_secret"] = huddle_refreshed["expires_in"]

    # 6. The failures a client must be able to tell apart.
    try:
        OAuth2Session(client=LegacyApplicationClient(client_id=CLIENT_ID)).fetch_token(
            token_url=f"{BASE}/oauth/token", username=USERNAME, password=PASSWORD + "x",
            client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
        )
        raise AssertionError("a wrong password was accepted")
    except InvalidGrantError as err:
        steps["wrong_password"] = err.error
    try:
        OAuth2Session(client=LegacyApplicationClient(client_id=CLIENT_ID)).fetch_token(
            token_url=f"{BASE}/oauth/token", username=USERNAME, password=PASSWORD,
            client_id=CLIENT_ID, client_secret=CLIENT_SECRET + "x",
        )
        raise AssertionError("a wrong client secret was accepted")
    except InvalidClientError as err:
        steps["wrong_client_secret"] = err.error

    print(json.dumps(steps, sort_keys=True))


if __name__ == "__main__":
    try:
        main()
    except Exception as err:  # one line on stderr, whatever went wrong
        print(f"password_grant.py: {type(err).__name__}: {err}", file=sys.stderr)
        sys.exit(1)
