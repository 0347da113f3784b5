"""The proof service behind ``por serve``: public bundle, web verifier, customers' own proofs.

An ASGI app (FastAPI, served by uvicorn) with these endpoints (docs/serve.md):

* ``GET /api/v1/proof``  the caller's own inclusion proof, authenticated by a bearer token
  (:mod:`por.tokens`) that binds account id, round id and expiry; the body is exactly the
  bytes in the proof store;
* ``GET /api/v1/round``  the public facts of the round the service serves;
* ``GET /bundle/{path}`` the public bundle files (report, manifest, liabilities public values
  and proof, assets), never anything private (secret keys, inclusion proofs);
* ``GET /verify/``       the web verifier page (static files from ``python/por/web/``);
* ``GET /healthz``, ``GET /openapi.json``, ``GET /docs``.

There is no way to list or search accounts. Every refusal of a proof request, whether the
token is missing, malformed, forged or names an account the store does not hold, is the same
401 ``invalid_token`` answer; only a token whose signature verified can get ``token_expired``
(401) or ``wrong_round`` / ``wrong_account`` (403), which tell its holder nothing new.

Run with several uvicorn workers, each worker builds its own app (:func:`app_from_env`) with
its own read connections to the store.
"""


import hmac
from contextlib import asynccontextmanager
import json
import mimetypes
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Query, Request, Security
from fastapi.exceptions import RequestValidationError
import orjson
from fastapi.responses import FileResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.staticfiles import StaticFiles

from por import __version__
from por.fileio import read_json
from por.inclusion import ROUND_ID_PATTERN, InclusionProof
from por.store import PostgresStore, ProofStore, open_store
from por.tokens import INVALID_MESSAGE, TokenError, TokenKey, TokenVerifier, load_key

API_TITLE = "por proof service"
WEB_DIR = Path(__file__).resolve().parent / "web"
CONFIG_ENV = "POR_SERVE_CONFIG"

#: Bundle paths never served, whatever the bundle holds (private by the bundle contract).
PRIVATE_NAMES = {"round-secret.key", "inclusion"}
PRIVATE_SUFFIXES = (".key", ".tmp", ".db", ".sqlite", ".sqlite3", "-wal", "-shm")
MEDIA_TYPES = {".json": "application/json", ".html": "text/html; charset=utf-8",
               ".pdf": "application/pdf", ".bin": "application/octet-stream",
               ".txt": "text/plain; charset=utf-8", ".csv": "text/csv; charset=utf-8",
               ".sig": "application/octet-stream", ".svg": "image/svg+xml",
               ".png": "image/png", ".css": "text/css; charset=utf-8",
               ".js": "text/javascript; charset=utf-8"}
BUNDLE_MEDIA = sorted(set(MEDIA_TYPES.values()))


class ServiceError(Exception):
    """The service cannot start (bad bundle, key or store)."""


# --- response models (they are the OpenAPI contract: docs/openapi.json) -----------------------

ErrorCode = Literal["invalid_token", "token_expired", "wrong_round", "wrong_account",
                    "not_found", "method_not_allowed", "invalid_request", "internal_error"]


class ErrorResponse(BaseModel):
    """Every error the service answers has this shape."""

    model_config = ConfigDict(extra="forbid")
    error: ErrorCode = Field(description="machine-readable error code")
    message: str = Field(description="what went wrong, for a person")


class Health(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["ok"]
    round_id: str
    version: str


class RoundInfo(BaseModel):
    """The public facts of the served round (from the bundle's liabilities/public.json)."""

    model_config = ConfigDict(extra="forbid")
    round_id: Annotated[str, Field(pattern=ROUND_ID_PATTERN)]
    assets: list[str]
    root: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    tree_height: int
    proof_url: str = Field(description="where a token holder fetches their inclusion proof")
    bundle_url: str = Field(description="where the public bundle files are")
    token_format: str = Field(description="the accepted token format (docs/serve.md)")


def _error(status: int, code: str, message: str, headers: dict | None = None) -> Response:
    return Response(orjson.dumps({"error": code, "message": message}), status_code=status,
                    headers=headers, media_type="application/json")


_WWW_AUTH = {"WWW-Authenticate": 'Bearer realm="por", error="invalid_token"'}
_NO_STORE = {"Cache-Control": "no-store"}


def _err_doc(description: str) -> dict:
    return {"model": ErrorResponse, "description": description}


# --- configuration -------------------------------------------------------------------------


@dataclass
class ServiceConfig:
    bundle: Path
    db_url: str
    key_files: list[str]
    web_dir: Path | None = None
    token_cache: int = 65536
    #: filled in by :func:`load_config`
    public: dict[str, Any] = field(default_factory=dict)

    def to_env(self) -> str:
        return json.dumps({"bundle": str(self.bundle), "db_url": self.db_url,
                           "key_files": self.key_files,
                           "web_dir": str(self.web_dir) if self.web_dir else None,
                           "token_cache": self.token_cache})

    @classmethod
    def from_env(cls, text: str) -> "ServiceConfig":
        d = json.loads(text)
        return cls(bundle=Path(d["bundle"]), db_url=d["db_url"], key_files=list(d["key_files"]),
                   web_dir=Path(d["web_dir"]) if d.get("web_dir") else None,
                   token_cache=int(d.get("token_cache", 65536)))


def load_bundle_public(bundle: Path) -> dict[str, Any]:
    """The round's public values, from ``BUNDLE/liabilities/public.json``."""
    path = Path(bundle) / "liabilities" / "public.json"
    doc = read_json(path, ServiceError,
                    hint=f"; is {bundle} a round bundle (BUNDLE/liabilities/public.json)?")
    for k in ("round_id", "assets", "root", "tree_height"):
        if k not in doc:
            raise ServiceError(f"{path}: missing field {k!r}")
    return doc


def load_keys(key_files: list[str]) -> list[TokenKey]:
    """The key ring: public halves of every key file (signing-key files are accepted)."""
    if not key_files:
        raise ServiceError("no token key given (--token-key KEYFILE.pub)")
    return [load_key(p).public_only() for p in key_files]


def web_dir_has_page(d: Path | None) -> bool:
    return d is not None and d.is_dir() and any(p.is_file() for p in d.iterdir())


# --- the app ---------------------------------------------------------------------------------


def _bundle_file(root: Path, rel: str) -> Path | None:
    """The file ``rel`` inside the bundle, or None if it is absent, private or escapes."""
    if not rel or "\\" in rel or "\x00" in rel:
        return None
    parts = rel.split("/")
    if _private(parts):
        return None
    try:
        real = root.joinpath(*parts).resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    # a symbolic link must stay inside the bundle and must not lead to a private file
    if not real.is_file() or not real.is_relative_to(root) \
            or _private(list(real.relative_to(root).parts)):
        return None
    return real


def _private(parts: list[str]) -> bool:
    if any(not p or p.startswith(".") for p in parts):  # empty, ".", "..", dot files
        return True
    return any(p in PRIVATE_NAMES for p in parts) or parts[-1].endswith(PRIVATE_SUFFIXES)


def _err_body(code: str, message: str) -> bytes:
    return orjson.dumps({"error": code, "message": message})


_INVALID_BODY = _err_body("invalid_token", INVALID_MESSAGE)


class BatchedLookups:
    """Store lookups off the event loop, coalesced (used for PostgreSQL).

    A lookup over the network leaves the worker idle for a round trip, and under load each
    round trip waits for the database process to get a core. So lookups run in one store
    thread, and every lookup that arrives while a query is in flight joins the next query
    (``WHERE account_id = ANY(...)``): one round trip serves all the requests that queued
    behind it. An idle worker sends each lookup at once (a batch of one).
    """

    def __init__(self, store: ProofStore, round_id: str, max_batch: int = 256):
        from concurrent.futures import ThreadPoolExecutor

        self.store = store
        self.round_id = round_id
        self.max_batch = max_batch
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="por-store")
        self._pending: list[tuple[str, Any]] = []
        self._running = False

    async def get(self, account_id: str) -> bytes | None:
        import asyncio

        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        self._pending.append((account_id, fut))
        if not self._running:
            self._running = True
            loop.create_task(self._drain(loop))
        return await fut

    async def _drain(self, loop) -> None:
        try:
            while self._pending:
                batch = self._pending[:self.max_batch]
                del self._pending[:self.max_batch]
                try:
                    found = await loop.run_in_executor(
                        self._pool, self.store.get_many, self.round_id,
                        list({a for a, _ in batch}))
                except Exception as exc:  # the store failed: every waiter gets the error
                    for _, f in batch:
                        if not f.done():
                            f.set_exception(exc)
                    continue
                for a, f in batch:
                    if not f.done():
                        f.set_result(found.get(a))
        finally:
            self._running = False

    def close(self) -> None:
        self._pool.shutdown(wait=True)


class ProofAnswerer:
    """The one decision behind ``GET /api/v1/proof``: (token, asserted round, asserted account)
    -> (status, body bytes, headers). Both the FastAPI route and the ASGI fast path use it.

    SQLite lookups (about 10 µs, local) run inline; PostgreSQL lookups go through
    :class:`BatchedLookups`."""

    def __init__(self, round_id: str, verifier: TokenVerifier, store: ProofStore):
        self.round_id = round_id
        self._round_b = round_id.encode()
        self.verifier = verifier
        self.store = store
        self.batched = BatchedLookups(store, round_id) if isinstance(store, PostgresStore) \
            else None

    async def __call__(self, token: str | None, round_q: str | None = None,
                       account_q: str | None = None) -> tuple[int, bytes, dict[str, str]]:
        decided = self.decide(token, round_q, account_q)
        if not isinstance(decided, str):
            return decided
        if self.batched is not None:
            proof = await self.batched.get(decided)
        else:
            proof = self.store.get(self.round_id, decided)
        if proof is None:
            # Same answer as a forged token: a valid-looking request learns nothing.
            return 401, _INVALID_BODY, _WWW_AUTH
        return 200, proof, _NO_STORE

    def decide(self, token: str | None, round_q: str | None = None,
               account_q: str | None = None) -> tuple[int, bytes, dict[str, str]] | str:
        """An error answer, or the account id whose proof to look up."""
        if not token:
            return 401, _INVALID_BODY, _WWW_AUTH
        try:
            claims = self.verifier.verify(token)
        except TokenError as exc:
            return 401, _err_body(exc.code, exc.message), _WWW_AUTH
        if not hmac.compare_digest(claims.round.encode(), self._round_b):
            return 403, _err_body("wrong_round", f"this service serves round {self.round_id}; "
                                  f"the token is for round {claims.round}"), {}
        if round_q is not None and not hmac.compare_digest(round_q.encode(), self._round_b):
            return 403, _err_body("wrong_round", f"this service serves round {self.round_id}, "
                                  f"not {round_q}"), {}
        if account_q is not None and not hmac.compare_digest(account_q.encode(),
                                                             claims.acct.encode()):
            return 403, _err_body("wrong_account",
                                  "the token grants only its own account's proof"), {}
        return claims.acct

    def close(self) -> None:
        if self.batched is not None:
            self.batched.close()


def bearer_token(authorization: str | None) -> str | None:
    """The credentials of an ``Authorization: Bearer X`` header (as FastAPI's HTTPBearer)."""
    if not authorization:
        return None
    scheme, _, credentials = authorization.partition(" ")
    if not scheme or not credentials or scheme.lower() != "bearer":
        return None
    return credentials


class ProofFastPath:
    """ASGI middleware answering the common request — ``GET /api/v1/proof`` without a query
    string — directly with :class:`ProofAnswerer`, skipping FastAPI's routing, dependency
    injection and validation (about half the CPU per request). Every other request, including
    ones with query parameters, goes to the FastAPI app; the answers are byte-identical."""

    PATH = "/api/v1/proof"

    def __init__(self, app: FastAPI):
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if (scope["type"] == "http" and scope["path"] == self.PATH and scope["method"] == "GET"
                and not scope.get("query_string")):
            auth = None
            for k, v in scope["headers"]:
                if k == b"authorization":
                    auth = v.decode("latin-1")
                    break
            try:
                status, body, headers = await self.app.state.answer(bearer_token(auth))
            except Exception:  # e.g. the database is down: the same 500 as the app's handler
                status, body, headers = 500, _err_body("internal_error", "internal error"), {}
            raw = [(b"content-type", b"application/json"),
                   (b"content-length", str(len(body)).encode())]
            raw += [(k.lower().encode(), v.encode("latin-1")) for k, v in headers.items()]
            await send({"type": "http.response.start", "status": status, "headers": raw})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)


def create_app(config: ServiceConfig, *, store: ProofStore | None = None,
               verifier: TokenVerifier | None = None) -> FastAPI:
    """Build the service. ``store``/``verifier`` may be passed in (tests); else they are opened."""
    public = config.public or load_bundle_public(config.bundle)
    round_id: str = public["round_id"]
    bundle_root = Path(config.bundle).resolve()
    if verifier is None:
        verifier = TokenVerifier(load_keys(config.key_files), cache_size=config.token_cache)
    if store is None:
        store = open_store(config.db_url)
    the_store = store

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        app.state.answer.close()
        the_store.close()

    app = FastAPI(
        lifespan=lifespan,
        title=API_TITLE, version=__version__,
        description=("Customers fetch their own Proof-of-Reserves inclusion proof with the "
                     "token the exchange gave them; anyone fetches the public bundle. "
                     "See docs/serve.md."),
        responses={},
    )
    app.state.store = store
    app.state.verifier = verifier
    app.state.round_id = round_id

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return _error(404, "not_found", "no such resource")
        if exc.status_code == 405:
            return _error(405, "method_not_allowed", "method not allowed",
                          headers=getattr(exc, "headers", None))
        return _error(exc.status_code, "invalid_request", str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        where = "; ".join(".".join(str(x) for x in e.get("loc", ())) + ": " + str(e.get("msg"))
                          for e in exc.errors()[:5])
        return _error(422, "invalid_request", f"invalid request ({where})")

    @app.exception_handler(Exception)
    async def _internal_error(request: Request, exc: Exception) -> Response:  # pragma: no cover
        return _error(500, "internal_error", "internal error")

    bearer = HTTPBearer(auto_error=False, scheme_name="proofToken",
                        description="A `por1.` token issued by the exchange "
                                    "(`por token issue`); see docs/serve.md.")

    answer = ProofAnswerer(round_id, verifier, store)
    app.state.answer = answer

    invalid = {401: {**_err_doc("the token is missing, malformed, forged, expired, or grants "
                                "no proof here (all one answer)"),
                     "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}}}}

    @app.get(
        "/api/v1/proof",
        summary="The token holder's own inclusion proof",
        description=("Returns the caller's `por-inclusion-proof` v1 document "
                     "(docs/inclusion-proof.md) exactly as stored. The account and round come "
                     "from the token; the optional query parameters only let a client assert "
                     "what it expects (a mismatch is 403)."),
        response_class=Response,
        responses={
            200: {"model": InclusionProof, "description": "the inclusion proof, as stored",
                  "headers": {"Cache-Control": {"schema": {"type": "string"}}}},
            **invalid,
            403: _err_doc("the token is valid but for another round or account than asked"),
            422: _err_doc("a query parameter is malformed"),
        },
        tags=["customer"],
    )
    async def get_proof(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
        round_id_q: Annotated[str | None, Query(
            alias="round_id", max_length=64, pattern=ROUND_ID_PATTERN,
            description="the round the client expects (default: the served round)")] = None,
        account_id_q: Annotated[str | None, Query(
            alias="account_id", min_length=1, max_length=256,
            description="the account the client expects (default: the token's)")] = None,
    ) -> Response:
        status, body, headers = await answer(
            credentials.credentials if credentials is not None else None,
            round_id_q, account_id_q)
        return Response(content=body, status_code=status, headers=headers,
                        media_type="application/json")

    round_info = RoundInfo(
        round_id=round_id, assets=list(public["assets"]), root=public["root"],
        tree_height=int(public["tree_height"]), proof_url="/api/v1/proof",
        bundle_url="/bundle/", token_format="por1 (ed25519), docs/serve.md")

    @app.get("/api/v1/round", response_model=RoundInfo, tags=["public"],
             summary="The served round's public facts")
    async def get_round() -> RoundInfo:
        return round_info

    @app.get("/healthz", response_model=Health, tags=["operations"], summary="Liveness")
    async def healthz() -> Health:
        return Health(status="ok", round_id=round_id, version=__version__)

    @app.get(
        "/bundle/{path:path}",
        summary="A public bundle file",
        description=("Files of the round's public bundle, e.g. `liabilities/public.json`, "
                     "`report.json`, `manifest.json`. Private files are never served."),
        response_class=Response,
        responses={200: {"description": "the file",
                         "content": {m: {"schema": {"type": "string", "format": "binary"}}
                                     for m in BUNDLE_MEDIA}},
                   404: _err_doc("no such public file")},
        tags=["public"],
    )
    async def get_bundle_file(path: str) -> Response:
        f = _bundle_file(bundle_root, path)
        if f is None:
            return _error(404, "not_found", "no such public bundle file")
        media = MEDIA_TYPES.get(f.suffix.lower(), "application/octet-stream")
        return FileResponse(f, media_type=media, headers={"Cache-Control": "public, max-age=300"})

    if web_dir_has_page(config.web_dir):
        app.mount("/verify", StaticFiles(directory=config.web_dir, html=True), name="verify")

    return app


def app_from_env() -> "ProofFastPath":
    """The uvicorn factory (``por.service:app_from_env``): config from ``$POR_SERVE_CONFIG``."""
    text = os.environ.get(CONFIG_ENV)
    if not text:
        raise ServiceError(f"${CONFIG_ENV} is not set (start the service with `por serve`)")
    return ProofFastPath(create_app(ServiceConfig.from_env(text)))


def run(config: ServiceConfig, *, host: str = "127.0.0.1", port: int = 8000,
        workers: int = 1, log_level: str = "warning", access_log: bool = False) -> None:
    """Serve with uvicorn (uvloop + httptools); several workers fork one app each."""
    import uvicorn

    # Fail early, in the parent, with a clear message.
    load_bundle_public(config.bundle)
    load_keys(config.key_files)
    open_store(config.db_url).close()
    os.environ[CONFIG_ENV] = config.to_env()
    uvicorn.run("por.service:app_from_env", factory=True, host=host, port=port,
                workers=workers, loop="uvloop", http="httptools", log_level=log_level,
                access_log=access_log, server_header=False, date_header=False,
                backlog=4096)


def openapi_document() -> dict[str, Any]:
    """The service's OpenAPI document, independent of any bundle, key or store."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        key = TokenKey.generate()
        cfg = ServiceConfig(bundle=Path(tmp), db_url=str(Path(tmp) / "openapi.db"),
                            key_files=[], public={"round_id": "r", "assets": [],
                                                  "root": "0" * 64, "tree_height": 1})
        app = create_app(cfg, verifier=TokenVerifier([key]))
        try:
            return app.openapi()
        finally:
            app.state.store.close()


def openapi_json() -> str:
    return json.dumps(openapi_document(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":  # python -m por.service --openapi docs/openapi.json
    import sys

    if len(sys.argv) == 3 and sys.argv[1] == "--openapi":
        Path(sys.argv[2]).write_text(openapi_json())
    else:
        sys.stderr.write("usage: python -m por.service --openapi FILE\n")
        raise SystemExit(2)
