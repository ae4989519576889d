"""HubStandIn: a loopback stand-in for the few Hugging Face Hub endpoints sharing uses.

It is **not** the Hub. The Hub cannot be reached from an offline machine, so
this server answers the requests that ``huggingface_hub`` makes for
``create_repo``, ``upload_folder`` / ``create_commit``, ``snapshot_download``
and ``hf_hub_download``, keeping repositories in memory with a commit history,
so that ``push_to_hub`` / ``from_hub`` / ``load_tool`` run over real HTTP
through the real client::

    from smolkernel.testing.hub import HubStandIn

    with HubStandIn() as hub:
        agent.push_to_hub("me/agent", token="hf_x", endpoint=hub.endpoint)
        # or: os.environ["HF_ENDPOINT"] = hub.endpoint

Served: ``POST /api/repos/create``, ``GET /api/{type}s/{repo}/revision/{rev}``,
``GET /api/{type}s/{repo}/tree/{rev}``, ``POST /api/{type}s/{repo}/preupload/{rev}``,
``POST /api/{type}s/{repo}/commit/{rev}`` (regular, base64 files; deletions)
and ``GET|HEAD /[{type}s/]{repo}/resolve/{rev}/{path}``. A revision is
``main`` or a commit id. Writes need an ``Authorization`` header, as on the
Hub. Every request is recorded in ``hub.requests`` as ``(method, path)``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

__all__ = ["HubStandIn", "Commit"]

_TYPES = {"models": "model", "spaces": "space", "datasets": "dataset"}
_API = re.compile(r"^/api/(models|spaces|datasets)/([^/]+/[^/]+)/(revision|tree|preupload|commit)/([^/]+)(/.*)?$")
_RESOLVE = re.compile(r"^/(?:(spaces|datasets)/)?([^/]+/[^/]+)/resolve/([^/]+)/(.+)$")


@dataclass
class Commit:
    """One commit of a stand-in repository."""

    oid: str
    message: str
    files: dict[str, bytes]
    parent: str | None = None
    created: float = field(default_factory=time.time)


@dataclass
class _Repo:
    repo_type: str
    private: bool
    commits: list[Commit] = field(default_factory=list)

    def at(self, revision: str) -> Commit | None:
        if not self.commits:
            return None
        if revision in ("main", "HEAD"):
            return self.commits[-1]
        return next((c for c in self.commits if c.oid == revision), None)


def _blob_oid(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class HubStandIn:
    """A stand-in Hub server on 127.0.0.1 (see the module docs); use as a context manager."""

    def __init__(self) -> None:
        self.repos: dict[tuple[str, str], _Repo] = {}
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), type("HubHandler", (_Handler,), {"hub": self}))
        self._thread = threading.Thread(target=self._server.serve_forever, name="hub-stand-in", daemon=True)

    @property
    def endpoint(self) -> str:
        """The base URL to give ``HF_ENDPOINT`` (or ``endpoint=``)."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> HubStandIn:
        """Start serving in a background thread."""
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> HubStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def history(self, repo_id: str, repo_type: str = "model") -> list[Commit]:
        """The commits of a repository, oldest first."""
        return list(self.repos[(repo_type, repo_id)].commits)

    # -- operations (called by the handler) ---------------------------------

    def _create(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        name = body.get("name", "")
        repo_id = f"{body['organization']}/{name}" if body.get("organization") else name
        repo_type = body.get("type") or "model"
        with self._lock:
            url = self._url(repo_type, repo_id)
            if (repo_type, repo_id) in self.repos:
                return 409, {"error": "You already created this repo", "url": url}
            repo = _Repo(repo_type, bool(body.get("private")) or body.get("visibility") == "private")
            self.repos[(repo_type, repo_id)] = repo
            self._commit(repo, "initial commit", {}, None)
        return 200, {"url": url, "name": repo_id, "id": repo_id}

    def _url(self, repo_type: str, repo_id: str) -> str:
        prefix = "" if repo_type == "model" else f"{repo_type}s/"
        return f"{self.endpoint}/{prefix}{repo_id}"

    def _commit(self, repo: _Repo, message: str, changes: dict[str, bytes | None], parent: str | None) -> Commit:
        files = dict(repo.commits[-1].files) if repo.commits else {}
        for path, data in changes.items():
            if data is None:
                files.pop(path, None)
            else:
                files[path] = data
        seed = json.dumps([parent, message, time.time_ns(), sorted((p, _blob_oid(d)) for p, d in files.items())])
        commit = Commit(hashlib.sha1(seed.encode()).hexdigest(), message, files, parent)
        repo.commits.append(commit)
        return commit

    def _apply_commit(self, repo: _Repo, repo_id: str, lines: list[dict[str, Any]]) -> dict[str, Any]:
        message, changes = "", {}
        for line in lines:
            value = line.get("value", {})
            if line.get("key") == "header":
                message = "\n\n".join(part for part in (value.get("summary"), value.get("description")) if part)
            elif line.get("key") == "file":
                changes[value["path"]] = base64.b64decode(value["content"]) if value.get("encoding") == "base64" else value["content"].encode()
            elif line.get("key") in ("deletedFile", "deletedFolder"):
                for path in [p for p in repo.commits[-1].files if p == value["path"] or p.startswith(value["path"].rstrip("/") + "/")]:
                    changes[path] = None
        with self._lock:
            commit = self._commit(repo, message, changes, repo.commits[-1].oid if repo.commits else None)
        return {"commitUrl": f"{self._url(repo.repo_type, repo_id)}/commit/{commit.oid}", "commitOid": commit.oid, "commitMessage": message, "pullRequestUrl": None}


class _Handler(BaseHTTPRequestHandler):
    """Serves one request against ``self.hub`` (set on the subclass made per server)."""

    hub: HubStandIn

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read hub.requests
        pass

    def _send(self, status: int, body: Any = None, headers: dict[str, str] | None = None, *, raw: bytes | None = None) -> None:
        data = raw if raw is not None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream" if raw is not None else "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _error(self, status: int, code: str, message: str) -> None:
        self._send(status, {"error": message}, {"X-Error-Code": code, "X-Error-Message": message})

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_GET(self) -> None:
        self._route()

    def do_HEAD(self) -> None:
        self._route()

    def do_POST(self) -> None:
        self._route()

    def _route(self) -> None:
        path = unquote(urlsplit(self.path).path)
        self.hub.requests.append((self.command, path))
        body = self._body() if self.command == "POST" else b""
        if self.command == "POST" and not self.headers.get("Authorization"):
            return self._error(401, "Unauthorized", "Invalid credentials in Authorization header")
        if path == "/api/repos/create" and self.command == "POST":
            status, answer = self.hub._create(json.loads(body or b"{}"))
            return self._send(status, answer)
        match = _API.match(path)
        if match:
            return self._api(_TYPES[match.group(1)], match.group(2), match.group(3), match.group(4), body)
        match = _RESOLVE.match(path)
        if match and self.command in ("GET", "HEAD"):
            return self._resolve(_TYPES.get(f"{match.group(1)}", "model") if match.group(1) else "model", match.group(2), match.group(3), match.group(4))
        self._error(404, "EntryNotFound", f"the stand-in Hub does not serve {self.command} {path}")

    def _repo_at(self, repo_type: str, repo_id: str, revision: str) -> tuple[_Repo | None, Commit | None]:
        repo = self.hub.repos.get((repo_type, repo_id))
        if repo is None:
            self._error(404, "RepoNotFound", f"Repository Not Found for url: {self.path}")
            return None, None
        commit = repo.at(revision)
        if commit is None:
            self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
        return repo, commit

    def _api(self, repo_type: str, repo_id: str, action: str, revision: str, body: bytes) -> None:
        repo, commit = self._repo_at(repo_type, repo_id, revision)
        if repo is None or commit is None:
            return
        if action == "revision":
            siblings = [{"rfilename": p} for p in sorted(commit.files)]
            return self._send(200, {"id": repo_id, "sha": commit.oid, "private": repo.private, "siblings": siblings, "lastModified": _iso(commit.created)})
        if action == "tree":
            entries = [{"type": "file", "oid": _blob_oid(d), "size": len(d), "path": p} for p, d in sorted(commit.files.items())]
            return self._send(200, entries)
        if action == "preupload":
            files = json.loads(body or b"{}").get("files", [])
            return self._send(200, {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in files], "commitOid": commit.oid})
        lines = [json.loads(line) for line in body.splitlines() if line.strip()]
        self._send(200, self.hub._apply_commit(repo, repo_id, lines))

    def _resolve(self, repo_type: str, repo_id: str, revision: str, file_path: str) -> None:
        repo, commit = self._repo_at(repo_type, repo_id, revision)
        if repo is None or commit is None:
            return
        data = commit.files.get(file_path)
        if data is None:
            return self._error(404, "EntryNotFound", f"{file_path} does not exist at {revision}")
        self._send(200, raw=data, headers={"X-Repo-Commit": commit.oid, "ETag": f'"{_blob_oid(data)}"'})


def _iso(timestamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(timestamp))
