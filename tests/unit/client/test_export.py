"""Export, delete and list through `Client` against an in-memory server: the export job is
waited for, its tar downloaded and checked against the model record before it is kept."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.unit.client.fake_download import FakeDownload
from weighbridge import (
    Client,
    DownloadError,
    ImportFailed,
    JobFailed,
    LocalInputError,
    RetryPolicy,
)
from weighbridge.client.download import part_path

FILES = {"config.json": b'{"model_type": "bert"}', "sub/model.safetensors": b"w" * 70_000}


def _tar(files: dict[str, bytes], top: str = "mini") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _record(files: dict[str, bytes]) -> dict[str, Any]:
    return {
        "_id": "cm-1",
        "modelId": "cm-1",
        "name": "mini",
        "files": [
            {"path": p, "size": len(d), "sha256": hashlib.sha256(d).hexdigest()}
            for p, d in files.items()
        ],
    }


class ExportServer:
    """Model cm-1, its export job (IN_PROGRESS for `polls` looks), delete, and the tar."""

    def __init__(self, tar: bytes, *, url_host: str = "http://wb.test", polls: int = 2) -> None:
        self.download = FakeDownload(tar)
        self.url = url_host + self.download.path
        self.polls = polls
        self.seen: list[str] = []
        self.job_error: dict[str, str] | None = None
        self.sha256: str | None = None
        self.record = _record(FILES)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def _job(self, action: str, state: str) -> dict[str, Any]:
        job: dict[str, Any] = {"_id": "ds-9", "modelId": "cm-1", "action": action}
        job["status"] = state
        if state == "FAILED":
            job["error"] = self.job_error
        if state == "SUCCESS" and action == "EXPORT":
            size = len(self.download.body)
            job["response"] = {
                "downloadUrl": self.url,
                "fileName": "mini.tar",
                "sizeBytes": size,
                "sha256": self.sha256,
            }
        return job

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(f"{request.method} {request.url.host}{request.url.path}")
        path = request.url.path
        if path == self.download.path:
            return self.download.handle(request)
        if path == "/api/public/models/cm-1" and request.method == "GET":
            return httpx.Response(200, json=self.record)
        if path == "/api/public/models/cm-1/export":
            return httpx.Response(200, json=self._job("EXPORT", "IN_PROGRESS"))
        if path == "/api/public/models/cm-1" and request.method == "DELETE":
            return httpx.Response(200, json=self._job("DELETE", "IN_PROGRESS"))
        if path == "/api/public/dock-status/ds-9":
            self.polls -= 1
            action = "DELETE" if any(s.startswith("DELETE") for s in self.seen) else "EXPORT"
            if self.polls > 0:
                return httpx.Response(200, json=self._job(action, "IN_PROGRESS"))
            return httpx.Response(
                200, json=self._job(action, "FAILED" if self.job_error else "SUCCESS")
            )
        return httpx.Response(404, json={"errors": [{"code": "NOT_FOUND", "msg": path}]})


def _client(server: ExportServer, tmp_path: Path) -> Client:
    return Client(
        "http://wb.test",
        "key",
        retry=RetryPolicy(max_attempts=3, sleep=lambda _: None),
        state_dir=tmp_path / "state",
        http_transport=server.transport(),
    )


def test_export_waits_downloads_and_checks_the_tar(tmp_path: Path) -> None:
    server = ExportServer(_tar(FILES))
    statuses: list[str] = []
    progress: list[int] = []
    with _client(server, tmp_path) as client:
        outcome = client.export_model(
            "cm-1",
            tmp_path / "out.tar",
            on_status=lambda s: statuses.append(s["status"]),
            progress=lambda d, _: progress.append(d),
            poll_interval=0.01,
        )
    assert (tmp_path / "out.tar").read_bytes() == server.download.body
    assert statuses == ["IN_PROGRESS", "SUCCESS"]
    assert outcome.verified_files == 2 and outcome.resumed_bytes == 0
    assert (outcome.size_bytes, outcome.dock_status_id) == (len(server.download.body), "ds-9")
    assert progress[-1] == len(server.download.body)


def test_a_tar_that_differs_from_the_record_is_never_kept(tmp_path: Path) -> None:
    server = ExportServer(_tar({**FILES, "config.json": b'{"model_type": "gpt2"}'}))
    with _client(server, tmp_path) as client, pytest.raises(DownloadError) as err:
        client.export_model("cm-1", tmp_path / "out.tar", poll_interval=0.01)
    assert err.value.code == "EXPORT_MISMATCH" and "config.json" in err.value.msg
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state"]  # no file, no .part


def test_a_missing_file_or_a_wrong_whole_file_sha256_is_refused(tmp_path: Path) -> None:
    server = ExportServer(_tar({"config.json": FILES["config.json"]}))
    with _client(server, tmp_path) as client, pytest.raises(DownloadError) as err:
        client.export_model("cm-1", tmp_path / "out.tar", poll_interval=0.01)
    assert "missing sub/model.safetensors" in err.value.msg

    server = ExportServer(_tar(FILES))
    server.sha256 = "0" * 64
    with _client(server, tmp_path) as client, pytest.raises(DownloadError) as err:
        client.export_model("cm-1", tmp_path / "out.tar", poll_interval=0.01)
    assert err.value.code == "CHECKSUM_MISMATCH"
    server.sha256 = hashlib.sha256(server.download.body).hexdigest()
    with _client(server, tmp_path) as client:
        client.export_model("cm-1", tmp_path / "out.tar", poll_interval=0.01)
    assert (tmp_path / "out.tar").read_bytes() == server.download.body


def test_export_into_a_folder_uses_the_servers_file_name(tmp_path: Path) -> None:
    server = ExportServer(_tar(FILES))
    with _client(server, tmp_path) as client:
        outcome = client.export_model("cm-1", tmp_path, poll_interval=0.01, verify=False)
    assert outcome.path == tmp_path / "mini.tar" and outcome.verified_files == 0
    assert "GET wb.test/api/public/models/cm-1" not in server.seen  # verify=False: no record


def test_an_output_in_a_missing_folder_is_refused_before_any_request(tmp_path: Path) -> None:
    server = ExportServer(_tar(FILES))
    with _client(server, tmp_path) as client, pytest.raises(LocalInputError) as err:
        client.export_model("cm-1", tmp_path / "no" / "out.tar")
    assert "does not exist" in err.value.msg and server.seen == []


def test_an_existing_output_file_is_kept_unless_overwrite(tmp_path: Path) -> None:
    server = ExportServer(_tar(FILES))
    out = tmp_path / "out.tar"
    out.write_bytes(b"precious")
    with _client(server, tmp_path) as client, pytest.raises(LocalInputError) as err:
        client.export_model("cm-1", out, poll_interval=0.01)
    assert err.value.code == "OUTPUT_EXISTS" and str(out) in err.value.msg
    assert server.seen == [] and out.read_bytes() == b"precious"  # asked nothing of the server
    with _client(server, tmp_path) as client:
        client.export_model("cm-1", out, poll_interval=0.01, overwrite=True)
    assert out.read_bytes() == server.download.body


def test_an_existing_file_in_an_output_folder_is_kept_unless_overwrite(tmp_path: Path) -> None:
    server = ExportServer(_tar(FILES))
    (tmp_path / "mini.tar").write_bytes(b"precious")
    with _client(server, tmp_path) as client, pytest.raises(LocalInputError) as err:
        client.export_model("cm-1", tmp_path, poll_interval=0.01)
    assert err.value.code == "OUTPUT_EXISTS" and "mini.tar" in err.value.msg
    assert (tmp_path / "mini.tar").read_bytes() == b"precious"
    with _client(server, tmp_path) as client:
        client.export_model("cm-1", tmp_path, poll_interval=0.01, overwrite=True)
    assert (tmp_path / "mini.tar").read_bytes() == server.download.body


def test_a_partial_download_alone_is_no_existing_output(tmp_path: Path) -> None:
    server = ExportServer(_tar(FILES))
    part_path(tmp_path / "out.tar").write_bytes(b"half")
    with _client(server, tmp_path) as client:
        client.export_model("cm-1", tmp_path / "out.tar", poll_interval=0.01)
    assert (tmp_path / "out.tar").read_bytes() == server.download.body


def test_the_api_key_is_sent_only_to_the_servers_own_origin(tmp_path: Path) -> None:
    server = ExportServer(_tar(FILES), url_host="https://cdn.test")
    with _client(server, tmp_path) as client:
        client.export_model("cm-1", tmp_path / "out.tar", poll_interval=0.01)
    (download,) = server.download.requests
    assert download.url.host == "cdn.test" and "X-api-key" not in download.headers
    same = ExportServer(_tar(FILES), url_host="http://wb.test:80")
    with _client(same, tmp_path) as client:
        client.export_model("cm-1", tmp_path / "out2.tar", poll_interval=0.01)
    assert same.download.requests[0].headers["X-api-key"] == "key"


def test_a_failed_export_job_is_a_job_failure_not_an_import_failure(tmp_path: Path) -> None:
    server = ExportServer(_tar(FILES))
    server.job_error = {"code": "MODEL_GONE", "msg": "The model was deleted."}
    with _client(server, tmp_path) as client, pytest.raises(JobFailed) as err:
        client.export_model("cm-1", tmp_path / "out.tar", poll_interval=0.01)
    assert not isinstance(err.value, ImportFailed)
    assert (err.value.code, err.value.dock_status["action"]) == ("MODEL_GONE", "EXPORT")


def test_delete_waits_for_its_job_unless_asked_not_to(tmp_path: Path) -> None:
    server = ExportServer(b"")
    with _client(server, tmp_path) as client:
        started = client.delete_model("cm-1", wait=False)
        assert started["status"] == "IN_PROGRESS" and server.polls == 2
        final = client.delete_model("cm-1", poll_interval=0.01)
    assert (final["status"], final["action"]) == ("SUCCESS", "DELETE")
    assert server.polls == 0


def test_a_delete_answered_final_at_once_is_not_polled(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.method == "DELETE"
        return httpx.Response(
            200,
            json={
                "_id": "ds-1",
                "action": "DELETE",
                "status": "FAILED",
                "error": {"code": "MODEL_BUSY", "msg": "An export is running."},
            },
        )

    transport = httpx.MockTransport(handler)
    with (
        Client("http://wb.test", "k", http_transport=transport) as client,
        pytest.raises(JobFailed) as err,
    ):
        client.delete_model("cm-1")
    assert err.value.code == "MODEL_BUSY"


def test_list_models_sends_the_filters_and_returns_the_page(tmp_path: Path) -> None:
    seen: list[httpx.QueryParams] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.params)
        return httpx.Response(
            200, json={"models": [{"_id": "cm-1"}], "total": 7, "limit": 1, "offset": 3}
        )

    with Client("http://wb.test", "k", http_transport=httpx.MockTransport(handler)) as client:
        page = client.list_models(
            1, 3, name="mini", is_adapter=False, format="gguf", status="READY"
        )
        client.list_models()
    assert dict(seen[0]) == {
        "limit": "1",
        "offset": "3",
        "name": "mini",
        "isAdapter": "false",
        "format": "gguf",
        "status": "READY",
    }
    assert dict(seen[1]) == {"limit": "50", "offset": "0"}
    assert (page.models, page.total, page.limit, page.offset) == ([{"_id": "cm-1"}], 7, 1, 3)
    assert page.to_dict()["total"] == 7
