"""API keys from the command line: create, list, revoke (then 401)."""

from __future__ import annotations

import subprocess
import sys

import httpx

from tests.live_server import LiveServer


def cli(server: LiveServer, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "weighbridge", "keys", *args,
                           "--data-dir", str(server.data_dir)],
                          capture_output=True, text=True, timeout=60, check=False)


def test_a_revoked_key_is_refused_and_the_others_keep_working(server: LiveServer) -> None:
    made = cli(server, "create", "--name", "to-revoke")
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    keeper = server.create_key("keeper")
    models = server.url + "/api/public/models"
    assert httpx.get(models, headers={"X-api-key": key}).status_code == 200

    listed = cli(server, "list")
    assert key not in listed.stdout  # only hashes are stored; secrets are never shown
    key_id = next(line.split("\t")[0] for line in listed.stdout.splitlines()
                  if "\tto-revoke\t" in line)
    revoked = cli(server, "revoke", key_id)
    assert revoked.returncode == 0, revoked.stderr

    r = httpx.get(models, headers={"X-api-key": key})
    assert r.status_code == 401 and r.json()["errors"][0]["code"] == "UNAUTHORIZED"
    assert httpx.get(models, headers={"X-api-key": keeper}).status_code == 200
    assert "revoked" in cli(server, "list").stdout
    unknown = cli(server, "revoke", "no-such-id")
    assert unknown.returncode == 2 and "keys list" in unknown.stderr
