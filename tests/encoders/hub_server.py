"""A loopback Hugging Face Hub: the HTTP API ``huggingface_hub`` uses to download a model.

It answers what ``snapshot_download`` / ``hf_hub_download`` ask (huggingface_hub 1.x–2.x):

- ``GET /api/models/{repo}/revision/{rev}``: model info (``sha``, ``siblings``);
- ``GET /api/models/{repo}/tree/{rev}``: the recursive file listing (one page);
- ``HEAD``/``GET /{repo}/resolve/{rev}/{file}``: a small file with ``X-Repo-Commit``, ``ETag``
  (its git blob sha1) and ``Content-Length``; a ``.safetensors`` file as the Hub serves LFS
  files: a 302 to a second, "CDN" server (another origin, so a HEAD stops there) carrying
  ``X-Linked-Etag`` (its sha256), ``X-Linked-Size`` and ``Location``.

Unknown repositories, revisions and files get 404 with the Hub's ``X-Error-Code``. Every request
is recorded in :attr:`LoopbackHub.requests`. Point ``huggingface_hub`` at it with
:meth:`LoopbackHub.patch_env`.

Example:
    >>> with LoopbackHub() as hub:                                  # doctest: +SKIP
    ...     commit = hub.add("org/tiny-clip", folder, revisions=("main", "v1"))
    ...     hub.patch_env(monkeypatch, tmp_path / "hf-home")
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit


@dataclass
class Repo:
    """A model repository: revision name (branch, tag or commit) → commit → folder."""

    refs: dict[str, str] = field(default_factory=dict)
    commits: dict[str, Path] = field(default_factory=dict)


def _files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def _git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class LoopbackHub:
    """Serves folders as Hub model repositories on 127.0.0.1 (and LFS files from a CDN port)."""

    def __init__(self) -> None:
        self.repos: dict[str, Repo] = {}
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request, CDN's too
        self._hub = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._cdn = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._lfs: dict[str, bytes] = {}  # sha256 -> bytes of the LFS files the CDN serves

    @property
    def url(self) -> str:
        """The endpoint (``HF_ENDPOINT``)."""
        return f"http://127.0.0.1:{self._hub.server_address[1]}"

    @property
    def cdn_url(self) -> str:
        return f"http://127.0.0.1:{self._cdn.server_address[1]}"

    def add(self, repo_id: str, folder: Path, *, revisions: tuple[str, ...] = ("main",)) -> str:
        """Publish ``folder`` as a commit of ``repo_id`` reachable by ``revisions``; its sha."""
        digest = hashlib.sha1(repo_id.encode())
        for name in _files(folder):
            digest.update(name.encode() + (folder / name).read_bytes())
        commit = digest.hexdigest()
        repo = self.repos.setdefault(repo_id, Repo())
        repo.commits[commit] = folder
        repo.refs.update({rev: commit for rev in revisions} | {commit: commit})
        return commit

    def requested(self, text: str) -> list[tuple[str, str]]:
        """The recorded requests whose path contains ``text``."""
        return [r for r in self.requests if text in r[1]]

    def patch_env(self, monkeypatch: Any, hf_home: Path) -> None:
        """Online, against this hub, with ``hf_home`` as ``HF_HOME`` (env and the constants
        huggingface_hub read at import)."""
        from huggingface_hub import constants

        for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_CACHE"):
            monkeypatch.delenv(var, raising=False)
        monkeypatch.setenv("HF_ENDPOINT", self.url)
        monkeypatch.setenv("HF_HOME", str(hf_home))
        monkeypatch.setattr(constants, "ENDPOINT", self.url)
        monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE",
                            self.url + "/{repo_id}/resolve/{revision}/{filename}")
        monkeypatch.setattr(constants, "HF_HOME", str(hf_home))
        monkeypatch.setattr(constants, "HF_HUB_CACHE", str(hf_home / "hub"))
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)

    def __enter__(self) -> LoopbackHub:
        for server in (self._hub, self._cdn):
            threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        for server in (self._hub, self._cdn):
            server.shutdown()
            server.server_close()

    # -- answers ---------------------------------------------------------------------------
    def answer(self, method: str, path: str) -> tuple[int, dict[str, str], bytes]:
        """(status, headers, body) for one request."""
        self.requests.append((method, path))
        parts = [unquote(p) for p in urlsplit(path).path.strip("/").split("/")]
        if parts[:1] == ["cdn"]:
            return self._cdn_file(parts[1])
        if parts[:2] == ["api", "models"] and len(parts) >= 6:
            return self._api(f"{parts[2]}/{parts[3]}", parts[4], parts[5])
        if len(parts) >= 5 and parts[2] == "resolve":
            return self._resolve(f"{parts[0]}/{parts[1]}", parts[3], "/".join(parts[4:]))
        return 404, {}, b"not a Hub route"

    def _commit(self, repo_id: str, rev: str) -> tuple[str, Path] | tuple[int, dict, bytes]:
        repo = self.repos.get(repo_id)
        if repo is None:
            return 404, {"X-Error-Code": "RepoNotFound"}, b"Repository not found"
        if rev not in repo.refs:
            return 404, {"X-Error-Code": "RevisionNotFound"}, b"Invalid rev id"
        commit = repo.refs[rev]
        return commit, repo.commits[commit]

    def _api(self, repo_id: str, kind: str, rev: str) -> tuple[int, dict[str, str], bytes]:
        found = self._commit(repo_id, rev)
        if isinstance(found[0], int):
            return found  # type: ignore[return-value]
        commit, folder = found
        names = _files(folder)
        if kind == "revision":
            body: Any = {"id": repo_id, "modelId": repo_id, "sha": commit, "private": False,
                         "siblings": [{"rfilename": n} for n in names]}
        elif kind == "tree":
            body = [self._tree_entry(folder, n) for n in names]
        else:
            return 404, {}, b"unknown API route"
        return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()

    @staticmethod
    def _tree_entry(folder: Path, name: str) -> dict[str, Any]:
        data = (folder / name).read_bytes()
        entry: dict[str, Any] = {"type": "file", "path": name, "size": len(data),
                                 "oid": _git_blob_sha1(data)}
        if name.endswith(".safetensors"):
            entry["lfs"] = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data),
                            "pointerSize": 130}
        return entry

    def _resolve(self, repo_id: str, rev: str, name: str) -> tuple[int, dict[str, str], bytes]:
        found = self._commit(repo_id, rev)
        if isinstance(found[0], int):
            return found  # type: ignore[return-value]
        commit, folder = found
        path = folder / name
        if not path.is_file():
            return 404, {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": commit}, b""
        data = path.read_bytes()
        headers = {"X-Repo-Commit": commit, "Content-Type": "application/octet-stream"}
        if name.endswith(".safetensors"):  # an LFS file: redirected to the CDN
            sha256 = hashlib.sha256(data).hexdigest()
            self._lfs[sha256] = data
            headers |= {"Location": f"{self.cdn_url}/cdn/{sha256}", "X-Linked-Etag":
                        f'"{sha256}"', "X-Linked-Size": str(len(data)), "ETag": '"redirect"'}
            return 302, headers, b""
        headers |= {"ETag": f'"{_git_blob_sha1(data)}"'}
        return 200, headers, data  # a HEAD gets the headers (Content-Length: the size) only

    def _cdn_file(self, sha256: str) -> tuple[int, dict[str, str], bytes]:
        data = self._lfs.get(sha256)
        if data is None:
            return 404, {}, b""
        return 200, {"ETag": f'"{sha256}"', "Content-Type": "application/octet-stream"}, data

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def _reply(self, head: bool) -> None:
                status, headers, body = hub.answer(self.command, self.path)
                self.send_response(status)
                headers.setdefault("Content-Length", str(len(body)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                if not head:
                    self.wfile.write(body)

            def do_GET(self) -> None:
                self._reply(head=False)

            def do_HEAD(self) -> None:
                self._reply(head=True)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler
