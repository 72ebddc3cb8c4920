"""A local stand-in for the Hugging Face Hub on 127.0.0.1, speaking what ``hf_hub_download`` and
``HfApi.model_info`` need: HEAD/GET ``/{repo}/resolve/{revision}/{file}`` with X-Repo-Commit, ETag and
Content-Length, 404s with X-Error-Code (RepoNotFound, RevisionNotFound, EntryNotFound), and
``/api/models/{repo}/revision/{revision}``. Faults per file: "corrupt" (same size, one byte flipped) and
"drop" (the connection closes mid-body).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlparse

_RESOLVE = re.compile(r"^/([^/]+/[^/]+)/resolve/([^/]+)/(.+)$")
_API = re.compile(r"^/api/models/([^/]+/[^/]+)/revision/([^/]+)$")


class FakeHub:
    """Repos of commits of files; ``log`` records (method, path) of every request."""

    def __init__(self) -> None:
        self.repos: dict[str, dict] = {}
        self.faults: dict[tuple[str, str], str] = {}
        self.log: list[tuple[str, str]] = []
        self._server: ThreadingHTTPServer | None = None

    def add_commit(self, repo_id: str, files: dict[str, bytes], *, branch: str = "main") -> str:
        """Add a commit holding ``files``, point ``branch`` at it, return its 40-hex id."""
        digest = hashlib.sha1(repo_id.encode())
        for name in sorted(files):
            digest.update(name.encode() + hashlib.sha256(files[name]).digest())
        commit = digest.hexdigest()
        repo = self.repos.setdefault(repo_id, {"commits": {}, "refs": {}})
        repo["commits"][commit] = dict(files)
        repo["refs"][branch] = commit
        return commit

    @property
    def endpoint(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> str:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def do_HEAD(self) -> None:
                hub._handle(self, body=False)

            def do_GET(self) -> None:
                hub._handle(self, body=True)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self.endpoint

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def requests_for(self, filename: str) -> list[str]:
        return [method for method, path in self.log if path.endswith("/" + filename)]

    # -- protocol -------------------------------------------------------------------------------------------
    def _resolve(self, repo_id: str, revision: str):
        repo = self.repos.get(repo_id)
        if repo is None:
            return None, "RepoNotFound"
        commit = repo["refs"].get(revision, revision)
        if commit not in repo["commits"]:
            return None, "RevisionNotFound"
        return commit, None

    def _error(self, handler, code: str) -> None:
        payload = json.dumps({"error": code}).encode()
        handler.send_response(404)
        handler.send_header("X-Error-Code", code)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    def _handle(self, handler, *, body: bool) -> None:
        path = unquote(urlparse(handler.path).path)
        self.log.append((handler.command, path))
        api = _API.match(path)
        if api:
            return self._model_info(handler, *api.groups())
        match = _RESOLVE.match(path)
        if not match:
            return self._error(handler, "RepoNotFound")
        repo_id, revision, filename = match.groups()
        commit, problem = self._resolve(repo_id, revision)
        if problem:
            return self._error(handler, problem)
        files = self.repos[repo_id]["commits"][commit]
        if filename not in files:
            return self._error(handler, "EntryNotFound")
        data = files[filename]
        fault = self.faults.get((repo_id, filename))
        if fault == "corrupt":
            data = bytes([data[0] ^ 0xFF]) + data[1:]
        handler.send_response(200)
        handler.send_header("X-Repo-Commit", commit)
        handler.send_header("ETag", f'"{hashlib.sha256(files[filename]).hexdigest()}"')
        handler.send_header("Content-Length", str(len(data)))
        handler.send_header("Content-Type", "application/octet-stream")
        handler.end_headers()
        if not body:
            return
        if fault == "drop":
            handler.wfile.write(data[: len(data) // 2])
            handler.wfile.flush()
            handler.close_connection = True
            handler.connection.shutdown(2)
            return
        handler.wfile.write(data)

    def _model_info(self, handler, repo_id: str, revision: str) -> None:
        commit, problem = self._resolve(repo_id, revision)
        if problem:
            return self._error(handler, problem)
        files = self.repos[repo_id]["commits"][commit]
        siblings = [
            {
                "rfilename": name,
                "size": len(data),
                "lfs": {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 134},
            }
            for name, data in sorted(files.items())
        ]
        payload = json.dumps({"id": repo_id, "modelId": repo_id, "sha": commit, "siblings": siblings}).encode()
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)
