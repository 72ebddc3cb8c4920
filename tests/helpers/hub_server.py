"""A local stand-in for the Hugging Face Hub on 127.0.0.1, speaking what ``hf_hub_download``,
``snapshot_download``, ``HfApi.model_info`` and ``HfApi.upload_folder`` need: HEAD/GET
``/{repo}/resolve/{revision}/{file}`` with X-Repo-Commit, ETag and Content-Length, 404s with X-Error-Code
(RepoNotFound, RevisionNotFound, EntryNotFound), ``/api/models/{repo}/revision/{revision}`` and
``/tree/{revision}``; for uploads POST ``/api/repos/create``, ``/api/validate-yaml``,
``/api/models/{repo}/preupload/{revision}`` (every file "regular": sent inside the commit),
``/api/models/{repo}/commit/{revision}`` (NDJSON) and ``/api/models/{repo}/branch/{branch}``. Faults per file:
"corrupt" (same size, one byte flipped) and "drop" (the connection closes mid-body). ``authorizations`` and
``read_authorizations`` record the Authorization header of every upload and every read request.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlparse

_RESOLVE = re.compile(r"^/([^/]+/[^/]+)/resolve/([^/]+)/(.+)$")
_API = re.compile(r"^/api/models/([^/]+/[^/]+)/revision/([^/]+)$")
_TREE = re.compile(r"^/api/models/([^/]+/[^/]+)/tree/([^/]+)/?$")
_UPLOAD = re.compile(r"^/api/models/([^/]+/[^/]+)/(preupload|commit|branch)/([^/]+)$")


class FakeHub:
    """Repos of commits of files; ``log`` records (method, path) of every request."""

    def __init__(self) -> None:
        self.repos: dict[str, dict] = {}
        self.faults: dict[tuple[str, str], str] = {}
        self.log: list[tuple[str, str]] = []
        self.authorizations: list[str | None] = []
        self.read_authorizations: list[str | None] = []
        self._server: ThreadingHTTPServer | None = None

    def add_commit(self, repo_id: str, files: dict[str, bytes], *, branch: str = "main") -> str:
        """Add a commit holding ``files``, point ``branch`` at it, return its 40-hex id."""
        digest = hashlib.sha1(repo_id.encode())
        parent = self.repos.get(repo_id, {}).get("refs", {}).get(branch)
        digest.update((parent or "").encode())
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

            def do_POST(self) -> None:
                hub._upload(self)

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
        self.read_authorizations.append(handler.headers.get("Authorization"))
        api = _API.match(path)
        if api:
            return self._model_info(handler, *api.groups())
        tree = _TREE.match(path)
        if tree:
            return self._tree(handler, *tree.groups())
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

    def _json(self, handler, value) -> None:
        payload = json.dumps(value).encode()
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    def _tree(self, handler, repo_id: str, revision: str) -> None:
        """The file listing ``snapshot_download`` reads (``list_repo_tree``), flat: our repos have no folders."""
        commit, problem = self._resolve(repo_id, revision)
        if problem:
            return self._error(handler, problem)
        entries = [
            {
                "type": "file",
                "path": name,
                "size": len(data),
                "oid": hashlib.sha1(f"blob {len(data)}\0".encode() + data).hexdigest(),
                "lfs": {"oid": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 134},
            }
            for name, data in sorted(self.repos[repo_id]["commits"][commit].items())
        ]
        self._json(handler, entries)

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

    # -- uploads -----------------------------------------------------------------------------------------------
    def _upload(self, handler) -> None:
        path = unquote(urlparse(handler.path).path)
        self.log.append((handler.command, path))
        self.authorizations.append(handler.headers.get("Authorization"))
        body = handler.rfile.read(int(handler.headers.get("Content-Length", 0)))
        if path == "/api/repos/create":
            request = json.loads(body)
            repo_id = f"{request['organization']}/{request['name']}" if request.get("organization") else request["name"]
            if repo_id in self.repos:  # the Hub's 409 names the repo's url, which create_repo(exist_ok) returns
                return self._refuse(
                    handler, 409, "You already created this model repo", url=f"{self.endpoint}/{repo_id}"
                )
            self.repos[repo_id] = {"commits": {}, "refs": {}}
            return self._json(handler, {"url": f"{self.endpoint}/{repo_id}", "name": repo_id})
        if path == "/api/validate-yaml":
            return self._json(handler, {"errors": [], "warnings": []})
        match = _UPLOAD.match(path)
        if not match or match.group(1) not in self.repos:
            return self._error(handler, "RepoNotFound")
        repo_id, kind, revision = match.groups()
        if kind == "preupload":
            files = json.loads(body)["files"]
            modes = [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in files]
            return self._json(handler, {"files": modes, "commitOid": self.repos[repo_id]["refs"].get(revision)})
        if kind == "branch":
            refs = self.repos[repo_id]["refs"]
            if revision in refs:
                return self._refuse(handler, 409, f"Branch {revision} already exists")
            refs[revision] = refs.get("main")
            return self._json(handler, {})
        return self._commit(handler, repo_id, revision, body)

    def _commit(self, handler, repo_id: str, revision: str, body: bytes) -> None:
        repo = self.repos[repo_id]
        if revision != "main" and revision not in repo["refs"]:
            return self._error(handler, "RevisionNotFound")
        parent = repo["refs"].get(revision)
        files = dict(repo["commits"][parent]) if parent else {}
        summary = ""
        for line in body.splitlines():
            item = json.loads(line)
            if item["key"] == "header":
                summary = item["value"]["summary"]
            elif item["key"] == "file":
                files[item["value"]["path"]] = base64.b64decode(item["value"]["content"])
            elif item["key"] == "deletedFile":
                files.pop(item["value"]["path"], None)
            else:
                return self._refuse(handler, 400, f"this stand-in takes regular files only; got {item['key']}")
        commit = self.add_commit(repo_id, files, branch=revision)
        repo.setdefault("messages", {})[commit] = summary
        return self._json(handler, {"commitUrl": f"{self.endpoint}/{repo_id}/commit/{commit}", "commitOid": commit})

    def _refuse(self, handler, status: int, message: str, **extra: str) -> None:
        payload = json.dumps({"error": message, **extra}).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)
