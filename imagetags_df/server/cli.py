"""``imagetags serve`` and ``imagetags keys``: thin commands over the server package.

This module imports without the ``server`` extra: Starlette and uvicorn are
imported inside ``serve`` only, so ``imagetags keys ...`` works on any install and
``imagetags serve`` names the ``pip install`` that is missing. The top-level
``imagetags`` group registers both commands (``from .server.cli import serve, keys``).
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
import json
import logging
import sqlite3
import sys
from pathlib import Path

import click

from .. import _constants as C
from .._exceptions import ConfigurationError
from .._install import pip_install
from ..cli_wording import cli_wording
from .keystore import MAX_CREDITS, KeyInfo, KeyNotFoundError, KeyStore, printable
from .serving import ServingLimits
from .validation import DECODE_BUDGET_BYTES

ENV_SERVER_DB = "IMAGETAGS_SERVER_DB"
_LIMITS = ServingLimits()
INSTALL_HINT = f"imagetags serve needs the server extra: {pip_install('server')}"


def default_db_path() -> Path:
    """The key database when ``--db`` is not given: a file in the per-user data folder."""
    import platformdirs

    return Path(platformdirs.user_data_dir("imagetags_df")) / "server.sqlite3"


def _db_option(func):
    return click.option(
        "--db", "db_path", type=click.Path(dir_okay=False, path_type=Path), envvar=ENV_SERVER_DB,
        default=None, show_envvar=True,
        help=f"SQLite file of keys and credits. Default: server.sqlite3 in the per-user data folder "
             f"(now {default_db_path()}).")(func)


def _store(db_path: Path | None) -> KeyStore:
    path = db_path or default_db_path()
    try:
        return KeyStore(path)
    except (sqlite3.Error, OSError) as exc:  # say which file, not a traceback
        raise click.ClickException(f"cannot open the key database {path}: {exc}") from None


# --------------------------------------------------------------------------- serve

@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. 0.0.0.0 listens on every interface: put a TLS proxy in front, "
                   "keys travel in clear over plain HTTP.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@_db_option
@click.option("--backend", default="local", show_default=True,
              help="What tags the images: 'local' is the embedded offline tagger (no network); 'ollama' a "
                   "vision model in a local Ollama ($OLLAMA_HOST); 'openai' any OpenAI-compatible server "
                   "($OPENAI_BASE_URL, $OPENAI_API_KEY). The last two need --model.")
@click.option("--model", metavar="MODEL", default=None,
              help="Vision model for --backend ollama/openai, e.g. qwen2.5vl:7b.")
@click.option("--precision", type=click.Choice(C.PRECISIONS), default=None,
              help=f"The offline tagger's models (--backend local): int8 runs about twice as fast on CPUs "
                   f"with int8 instructions (default ${C.ENV_PRECISION} or {C.DEFAULT_PRECISION}).")
@click.option("--rate-limit", default="30/min", show_default=True,
              help="Requests allowed per key, e.g. 30/min, 2/s, 1800/hour (1004 + HTTP 429 above it).")
@click.option("--credits-per-call", default=1, show_default=True, type=click.IntRange(0),
              help="Credits a successful tagging spends.")
@click.option("--cors-origin", "cors_origins", multiple=True, metavar="ORIGIN",
              help="Let browser pages on ORIGIN call the API (repeatable). Off by default: keys do not "
                   "belong in browsers.")
@click.option("--header-timeout", default=_LIMITS.header_timeout, show_default=True,
              type=click.FloatRange(min=0, min_open=True),
              help="Seconds for a request's headers to arrive; slower connections get 408 and are closed.")
@click.option("--body-timeout", default=_LIMITS.body_timeout, show_default=True,
              type=click.FloatRange(min=0, min_open=True),
              help="Seconds for a request's whole body to arrive once its headers have (408 after).")
@click.option("--keep-alive-timeout", default=_LIMITS.keep_alive_timeout, show_default=True,
              type=click.FloatRange(min=0, min_open=True),
              help="Seconds an idle kept-alive connection stays open after an answer.")
@click.option("--max-connections", default=_LIMITS.max_connections, show_default=True, type=click.IntRange(1),
              help="Open connections at most; more are answered 503 and closed at once.")
@click.option("--max-concurrency", default=_LIMITS.max_concurrency, show_default=True, type=click.IntRange(1),
              help="Requests handled at once; more get 5050 (HTTP 503, Retry-After: 1).")
@click.option("--tag-timeout", default=_LIMITS.tag_timeout, show_default=True,
              type=click.FloatRange(min=0, min_open=True),
              help="Seconds a request may take once its body is in; past it 5050 (HTTP 503), not charged.")
@click.option("--decode-memory", default=DECODE_BUDGET_BYTES // 2**20, show_default=True, type=click.IntRange(1),
              metavar="MIB", help="Memory one image may take to decode; images with more pixels than that "
                                  "allows get 2004, judged from their header.")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"]), help="Server log verbosity.")
def serve(host: str, port: int, db_path: Path | None, backend: str, model: str | None, precision: str | None,
          rate_limit: str,
          credits_per_call: int,
          cors_origins: tuple[str, ...], header_timeout: float, body_timeout: float, keep_alive_timeout: float,
          max_connections: int, max_concurrency: int, tag_timeout: float, decode_memory: int,
          log_level: str) -> None:
    """Serve POST /api/v1/generate_tags, the ImageDescriber API, on your machine.

    Any client of the hosted service works against it by changing only the base
    URL. Keys and credits come from the --db file (see 'imagetags keys'); one
    process serves a database (the rate limit is counted in memory): a second
    'serve' on the same --db refuses to start. On start-up, credits reserved by
    a server that was killed mid-request are refunded.

    \b
    Example:
      imagetags keys create --name alice --credits 1000
      imagetags serve --port 8000 --rate-limit 30/min
      curl http://127.0.0.1:8000/api/v1/generate_tags \\
        -H 'content-type: application/json' -H 'authorization: Bearer itk_...' \\
        -d '{"image": "data:image/jpeg;base64,...", "lang": "en"}'
    """
    try:
        import uvicorn

        from .app import create_app
        from .serving import uvicorn_config
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] in ("starlette", "uvicorn"):
            raise click.ClickException(f"{INSTALL_HINT} ({exc.name} is not installed)") from None
        raise
    store = _store(db_path)
    limits = ServingLimits(header_timeout=header_timeout, body_timeout=body_timeout,
                           keep_alive_timeout=keep_alive_timeout, max_connections=max_connections,
                           max_concurrency=max_concurrency, tag_timeout=tag_timeout)
    _setup_logging(log_level)
    try:
        # Claimed before the backend loads its models: a second server fails in a blink.
        refunded = store.claim_for_serving()
        from ..backends import resolve_backend

        options = {k: v for k, v in (("model", model), ("precision", precision)) if v is not None}
        chosen = resolve_backend(backend, **options) if options else backend
        app = create_app(store, backend=chosen, rate_limit=rate_limit, credits_per_call=credits_per_call,
                         cors_origins=cors_origins, limits=limits, decode_budget=decode_memory * 2**20)
    except ConfigurationError as exc:
        store.release_serving()
        raise click.ClickException(cli_wording(str(exc))) from None
    if refunded:
        click.echo(f"refunded {refunded} credit reservation(s) left open by a server that stopped mid-request",
                   err=True)
    active = [k for k in store.list_keys() if k.active]
    served = app.state.imagetags.backend
    precision = getattr(served, "precision", None)
    click.echo(f"imagetags serve: http://{_url_host(host)}:{port}{C.GENERATE_TAGS_PATH} "
               f"(backend {served.name}{f' {precision}' if precision else ''}, {app.state.imagetags.limiter}, "
               f"keys in {store.path})", err=True)
    if not active:
        click.echo("no active keys yet: create one with 'imagetags keys create --name NAME --credits N"
                   + (f" --db {db_path}'" if db_path else "'"), err=True)
    if not _is_loopback(host):
        click.echo(f"warning: listening on {host} over plain HTTP; put a TLS proxy in front", err=True)
    _raise_file_limit(max_connections)
    # Our own per-request log line (request id, key name, code, time) replaces
    # uvicorn's access log, which cannot show the code or the key name.
    server = uvicorn.Server(uvicorn_config(app, host=host, port=port, limits=limits, log_level=log_level))
    try:
        server.run()
    except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it handled, once shut down cleanly
        pass


def _raise_file_limit(max_connections: int) -> None:
    """Let the process open enough files for ``max_connections`` plus its own (the
    database, the models, the log), up to the hard limit the system allows."""
    try:
        import resource
    except ImportError:  # Windows: no such limit
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = max_connections + 256
    if soft != resource.RLIM_INFINITY and soft < want:
        new = want if hard == resource.RLIM_INFINITY else min(want, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
        if new < want:
            click.echo(f"warning: the open-file limit ({hard}) is below --max-connections {max_connections} "
                       "+ 256; lower --max-connections or raise the limit", err=True)


def _setup_logging(level: str) -> None:
    logger = logging.getLogger("imagetags_df.server")
    logger.setLevel(level.upper())
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
        logger.propagate = False


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


# --------------------------------------------------------------------------- keys

@click.group()
def keys() -> None:
    """Create, list, top up and revoke the keys of 'imagetags serve'.

    All subcommands take the same --db as serve (default: a file in the per-user
    data folder, or $IMAGETAGS_SERVER_DB).

    \b
    Example:
      imagetags keys create --name alice --credits 1000
      imagetags keys list
      imagetags keys topup alice --credits 500
      imagetags keys revoke alice
    """


@keys.command("create")
@click.option("--name", required=True, help="Who or what the key is for (shown in lists and logs).")
@click.option("--credits", "credits", required=True, type=click.IntRange(0, MAX_CREDITS),
              help="Starting credits.")
@_db_option
def keys_create(name: str, credits: int, db_path: Path | None) -> None:
    """Make a key and print it, once: only its hash is stored.

    The key alone goes to standard output, so it can be captured.

    \b
    Example:
      KEY=$(imagetags keys create --name alice --credits 1000)
    """
    store = _store(db_path)
    try:
        key, info = store.create(name, credits)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(key)
    click.echo(f"created key #{info.id} {info.name!r} with {info.credits} credits in {store.path}; "
               "it is shown only now, keep it safe", err=True)


def _when(ts: float | None) -> str:
    if ts is None:
        return ""
    return _dt.datetime.fromtimestamp(ts, _dt.timezone.utc).strftime("%Y-%m-%d %H:%M")


@keys.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per key instead of a table.")
@_db_option
def keys_list(as_json: bool, db_path: Path | None) -> None:
    """List keys: id, name, the key's first characters, credits, calls, status (never the key).

    \b
    Example:
      imagetags keys list --json
    """
    infos = _store(db_path).list_keys()
    if as_json:
        for info in infos:
            click.echo(json.dumps({"id": info.id, "name": info.name, "key": info.display, "credits": info.credits,
                                   "used": info.used, "created_at": info.created_at,
                                   "revoked_at": info.revoked_at}, ensure_ascii=False))
        return
    if not infos:
        click.echo("no keys yet: imagetags keys create --name NAME --credits N", err=True)
        return
    rows = [("id", "name", "key", "credits", "used", "created (UTC)", "status")]
    # Names escaped: one with a line break must not draw a table line of its own.
    rows += [(str(i.id), printable(i.name), i.display, str(i.credits), str(i.used), _when(i.created_at),
              "active" if i.active else f"revoked {_when(i.revoked_at)}") for i in infos]
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    for r in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip())


def _describe(info: KeyInfo) -> str:
    status = "active" if info.active else "revoked"
    return f"key #{info.id} {info.name!r}: {info.credits} credits, {status}"


@keys.command("topup")
@click.argument("key")
@click.option("--credits", "credits", required=True, type=click.IntRange(1, MAX_CREDITS), help="Credits to add.")
@_db_option
def keys_topup(key: str, credits: int, db_path: Path | None) -> None:
    """Add credits to KEY (its id, #3, or its name), also while the server runs.

    \b
    Example:
      imagetags keys topup alice --credits 500
    """
    try:
        info = _store(db_path).topup(key, credits)
    except (KeyNotFoundError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(_describe(info))


@keys.command("revoke")
@click.argument("key")
@_db_option
def keys_revoke(key: str, db_path: Path | None) -> None:
    """Refuse KEY (its id, #3, or its name) from now on, also while the server runs (1003).

    A KEY that is both one key's id and another's name is refused: write #3 for
    the id, name:3 for the name.

    \b
    Example:
      imagetags keys revoke '#3'
    """
    try:
        info = _store(db_path).revoke(key)
    except KeyNotFoundError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(_describe(info))


__all__ = ["ENV_SERVER_DB", "default_db_path", "keys", "serve"]
