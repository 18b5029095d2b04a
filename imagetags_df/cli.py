"""The ``imagetags`` command: a thin layer over the library.

Every command only turns options into calls of plain functions
(:func:`imagetags_df.generate`, :func:`imagetags_df.estimate` and the writers in
:mod:`imagetags_df.export`) and their outcome into messages and an exit status.
``python -m imagetags_df`` runs the same thing.
"""

from __future__ import annotations

import functools
import os
import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
import pandas as pd

from . import _constants as C
from . import engine, export
from ._exceptions import AuthenticationError, ConfigurationError, ImageTagsError, RunInterrupted
from ._types import RateLimit
from .backends import backend_names, charges_credits
from .cli_wording import cli_wording
from .images import is_url
from .server.cli import keys, serve

# Exit statuses. Click itself exits 2 on a usage error; Python exits 1 on an
# unexpected crash, so neither of ours reuses those.
EXIT_OK = 0
EXIT_USAGE = 2
EXIT_PARTIAL = 3
EXIT_FATAL = 4
EXIT_INTERRUPTED = 130
EXIT_SIGPIPE = 141  # what a shell reports for a process killed by SIGPIPE

#: Images a --dry-run tags with an unpaced backend (the offline tagger) to time it.
DRY_RUN_SAMPLE = 3

EXIT_HELP = f"""\b
Exit status:
  {EXIT_OK}    every image succeeded
  {EXIT_PARTIAL}    some images failed (summary by error code on stderr), or a
       sidecar/metadata write was refused or failed
  {EXIT_FATAL}    nothing useful could be done: bad or missing API key,
       unreadable path, output that cannot be written
  {EXIT_USAGE}    wrong options or arguments
  {EXIT_INTERRUPTED}  interrupted (Ctrl-C); finished images stay cached
"""

#: What each API code means, for the failure summary (API.md's table).
CODE_MEANINGS: dict[int, str] = {
    C.CODE_UNAUTHORIZED: "unauthorized",
    C.CODE_INVALID_KEY: "invalid API key",
    C.CODE_RATE_LIMITED: "rate limited (retries exhausted)",
    C.CODE_INVALID_PARAMS: "invalid parameters",
    C.CODE_NO_CREDITS: "insufficient credits: top up, then re-run",
    C.CODE_CONTENT_BLOCKED: "blocked by the content filter",
    C.CODE_INVALID_IMAGE: "invalid image format",
    C.CODE_UPLOAD_FAILED: "image upload failed (retries exhausted)",
    C.CODE_INTERNAL: "server error (retries exhausted)",
}

F = TypeVar("F", bound=Callable[..., Any])


def _fail(message: str, status: int = EXIT_FATAL) -> NoReturn:
    click.echo(f"imagetags: error: {cli_wording(message)}", err=True)
    sys.exit(status)


def _expected_errors(func: F) -> F:
    """Turn the library's own errors into one clear line and an exit status.

    Errors the user can act on never show a traceback; a real bug still does.
    Messages come from the library, which never puts the API key in one.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except AuthenticationError as exc:
            if exc.status_code in (401, 403) and exc.code is None:
                _fail(str(exc))  # a language-model server's refusal already says which key to set
            _fail(f"the API key was refused: {exc}\n"
                  f"Set a valid key: export {C.ENV_API_KEY}=... or pass --api-key "
                  "(or use --backend local, no key needed)")
        except ConfigurationError as exc:
            _fail(str(exc))
        except ImageTagsError as exc:
            _fail(str(exc))
        except BrokenPipeError:
            # `imagetags tag ... | head`: the reader has gone; stop quietly, as
            # `cat` does (Python's documented recipe: no "Exception ignored" noise at exit).
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            sys.exit(EXIT_SIGPIPE)
        except OSError as exc:
            where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
            _fail(f"{where}{exc.strerror or exc}")
        except KeyboardInterrupt as exc:
            done = f"{exc.done}/{exc.total} images done, " if isinstance(exc, RunInterrupted) else ""
            click.echo(f"\nimagetags: interrupted; {done}finished images are cached, run the same command "
                       "again to do the rest", err=True)
            sys.exit(EXIT_INTERRUPTED)

    return wrapper  # type: ignore[return-value]


def _rate_limit(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        RateLimit.parse(value)
    except ConfigurationError as exc:
        # click already names the flag: "Invalid value for '--rate-limit': 'fast' is ..."
        raise click.BadParameter(cli_wording(str(exc)).removeprefix("--rate-limit ")) from None
    return value


def _out_path(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    # Checked before the run, not after it has spent credits.
    if value is not None and value != "-":
        try:
            export.table_format(value)
        except ConfigurationError as exc:
            raise click.BadParameter(str(exc)) from None
        folder = Path(value).expanduser().parent
        if not folder.is_dir():
            raise click.BadParameter(f"the folder {str(folder)!r} does not exist; create it first")
    return value


def _run_options(func: F) -> F:
    """Options shared by every command that tags images (same meaning as generate()'s)."""
    options = [
        click.option("--lang", type=click.Choice(C.LANGUAGES), default=C.DEFAULT_LANG, show_default=True,
                     help="Language of tags, title and description."),
        click.option("--backend", type=click.Choice(backend_names(), case_sensitive=False), default="auto",
                     show_default=True,
                     help=f"'imagedescriber' is the API (key in ${C.ENV_API_KEY}); 'local' the offline "
                          "tagger (no key, no network); 'auto' the API when a key is set, else local; "
                          "'openai' any OpenAI-compatible vision model (OpenAI, vLLM, llama.cpp, LM Studio, "
                          "OpenRouter...; key in $OPENAI_API_KEY, URL in $OPENAI_BASE_URL); 'ollama' a local "
                          "Ollama (no key; $OLLAMA_HOST)."),
        click.option("--model", metavar="MODEL", default=None,
                     help="Vision model for --backend openai/ollama, e.g. gpt-4o-mini or qwen2.5vl:7b."),
        click.option("--labels", "labels_file", metavar="FILE", default=None, callback=_labels_file,
                     help="Closed label set, one a line: every tag comes from it (openai, ollama, local)."),
        click.option("--precision", type=click.Choice(C.PRECISIONS), default=None,
                     help=f"The offline tagger's models (--backend local): int8 runs about twice as fast "
                          f"on CPUs with int8 instructions (default ${C.ENV_PRECISION} or "
                          f"{C.DEFAULT_PRECISION}; see docs/speed.md)."),
        click.option("--instructions", metavar="TEXT", default=None,
                     help="Extra context for the model's prompt (openai, ollama)."),
        click.option("--max-side", type=click.IntRange(min=0), default=None, metavar="PX",
                     help="Downscale images to this long side before sending (openai, ollama; default "
                          "1024, 0 = as they are)."),
        click.option("--max-tokens-budget", type=click.IntRange(min=0), default=None, metavar="N",
                     help="Stop before the run's input + output tokens would exceed N (openai, ollama)."),
        click.option("--api-key", metavar="KEY", default=None,
                     help=f"ImageDescriber API key (default ${C.ENV_API_KEY}; prefer the variable: "
                          "a flag shows in the process list)."),
        click.option("--base-url", metavar="URL", default=None,
                     help=f"API base URL, e.g. an 'imagetags serve' (default ${C.ENV_BASE_URL} or the "
                          "hosted service)."),
        click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                     help=f"Result cache (default ${C.ENV_CACHE_DIR} or the per-user cache folder)."),
        click.option("--rate-limit", callback=_rate_limit, metavar="RATE", default=None,
                     help="Requests allowed, e.g. 30/min or 2/s (default: the backend's own, 30/min for the API)."),
        click.option("--max-credits", type=click.FloatRange(min=0), default=None, metavar="N",
                     help="Stop before spending more than N credits."),
        click.option("--concurrency", type=click.IntRange(min=1), default=None, metavar="N",
                     help="Requests in flight at once (default: enough to reach the rate limit)."),
        click.option("--no-progress", is_flag=True, help="Do not show the progress bar."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _labels_file(ctx: click.Context, param: click.Parameter, value: str | None) -> list[str] | None:
    # Read before the run: a missing or empty file is a usage error, not a failed run.
    if value is None:
        return None
    try:
        text = Path(value).expanduser().read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise click.BadParameter(f"{value}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise click.BadParameter(f"{value}: not UTF-8 text; save it as UTF-8, one label a line") from None
    labels = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if not labels:
        raise click.BadParameter(f"{value} holds no labels; write one a line")
    return labels


def _generate_kwargs(lang: str, backend: str, api_key: str | None, base_url: str | None,
                     cache_dir: Path | None, rate_limit: str | None, max_credits: float | None,
                     concurrency: int | None, no_progress: bool, model: str | None = None,
                     labels_file: list[str] | None = None, instructions: str | None = None,
                     max_side: int | None = None, max_tokens_budget: int | None = None,
                     precision: str | None = None) -> dict[str, Any]:
    if backend.lower() in ("openai", "ollama") and not model:
        # A missing option is a usage error (exit 2, as the help says), found before any image is read.
        from .backends.openai import missing_model_help

        raise click.UsageError(cli_wording(missing_model_help(backend.lower())))
    kwargs: dict[str, Any] = dict(lang=lang, backend=backend.lower(), api_key=api_key, base_url=base_url,
                                  cache_dir=cache_dir, rate_limit=rate_limit, max_credits=max_credits,
                                  max_concurrency=concurrency, progress=not no_progress)
    # Only what was given, so the other backends' functions see no options they do not take.
    vlm = dict(model=model, labels=labels_file, instructions=instructions, max_side=max_side,
               max_tokens_budget=max_tokens_budget, precision=precision)
    kwargs.update({k: v for k, v in vlm.items() if v is not None})
    return kwargs


# --------------------------------------------------------------------------- summaries


def _failure_group(code: Any, message: str, backends: frozenset[str] = frozenset()) -> tuple[int, str]:
    """A sort key and a label for one failed row.

    Rows without an API code are either local (the image could not be read) or
    never sent (budget reached, run stopped), or got no answer at all; the
    engine's "not sent" messages tell the second kind apart. ``backends`` are the
    run's backend names: the labels say only what applies to them (no API, no
    credits for the offline tagger).
    """
    if code is not None and not pd.isna(code):
        return int(code), f"{int(code)} {CODE_MEANINGS.get(int(code), 'error')}"
    paid = not backends or any(charges_credits(b) for b in backends)
    if message.startswith("not sent"):
        budgets = [b for b, used in (("--max-credits", paid),
                                     ("--max-tokens-budget", bool(backends & {"openai", "ollama"}))) if used]
        why = f"{' or '.join(budgets)} reached or the run stopped" if budgets else "the run stopped"
        return 10**6, f"not sent ({why})"
    if paid:
        return -1, "no API code (unreadable image, or no answer from the service)"
    if backends <= {"local"}:
        return -1, "unreadable image"
    return -1, "unreadable image, or no answer from the server"


def failure_summary(results: pd.DataFrame, col: str = "path", examples: int = 2) -> list[str]:
    """Lines that group failed rows by error code, with a couple of examples each."""
    backends = _run_backends(results)
    groups: dict[tuple[int, str], list[tuple[Any, str]]] = {}
    for path, code, err in zip(results[col], results["error_code"], results["error"]):
        if err is None or (isinstance(err, float) and pd.isna(err)):
            continue
        groups.setdefault(_failure_group(code, str(err), backends), []).append((path, str(err)))
    lines: list[str] = []
    for (_, label), rows in sorted(groups.items()):
        lines.append(f"  {label}: {len(rows)}")
        for path, err in rows[:examples]:
            lines.append(f"      {err}" if str(path) in err else f"      {path}: {err}")
    return lines


def _run_backends(results: pd.DataFrame) -> frozenset[str]:
    if "backend" not in results.columns:
        return frozenset()
    return frozenset(str(b) for b in results["backend"].dropna().unique())


def _report_run(results: pd.DataFrame, col: str = "path") -> bool:
    """Print a summary of a run on stderr; True when every row succeeded.

    Credits are named only for a backend that spends them, tokens only when the
    backend reported some; images answered without a tag are counted apart.
    """
    n = len(results)
    failed = int(results["error"].notna().sum())
    cached = int(results["cached"].sum())
    unsure = int(export.unsure_rows(results).sum())
    backends = _run_backends(results)
    spent = ""
    if "input_tokens" in results and results["input_tokens"].notna().any():
        spent = (f"; {int(results['input_tokens'].sum())} input + {int(results['output_tokens'].sum())} "
                 "output tokens used")
    elif not backends or any(charges_credits(b) for b in backends):
        spent = f"; {float(results['credits_used'].sum()):g} credits used"
    untagged = ""
    if unsure:
        them = "them" if unsure != 1 else "it"
        untagged = (f"; {unsure} left without tags: the tagger was not sure of anything in {them} "
                    "(shown as '(not sure)')")
    click.echo(f"imagetags: {n} image{'s' if n != 1 else ''}: {n - failed} tagged ({cached} from cache), "
               f"{failed} failed{spent}{untagged}", err=True)
    if failed:
        click.echo("failures by error code:", err=True)
        for line in failure_summary(results, col):
            click.echo(line, err=True)
    return failed == 0


# --------------------------------------------------------------------------- the group


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
             epilog="""\b
Examples:
  imagetags tag photos/ --recursive --out results.csv
  imagetags tag photos/ --sidecars --write-metadata --lang de
  imagetags tag photos/ --dry-run
  imagetags alt-text site/index.html -o site/index.html
  imagetags export --to hf results.parquet dataset/

Run 'imagetags COMMAND --help' for a command's options and exit statuses.""")
@click.version_option(package_name="imagetags-df", prog_name="imagetags")
def main() -> None:
    """AI tags, titles and descriptions for image folders and web pages.

    Uses the ImageDescriber API when a key is set (export IMAGEDESCRIBER_API_KEY=...)
    and the embedded offline tagger otherwise. Results are cached by image content,
    so running a command again costs nothing for images already done.
    """


# --------------------------------------------------------------------------- tag


@main.command(epilog=f"""\b
Examples:
  imagetags tag photos/ --recursive --out results.parquet
  imagetags tag a.jpg b.png --lang zh --out - > results.jsonl
  imagetags tag photos/ --sidecars              # photos/cat.jpg -> photos/cat.jpg.json
  imagetags tag photos/ --write-metadata        # XMP dc:subject/title/description, IPTC
  imagetags tag photos/ -r --dry-run            # what it would cost; calls nothing

{EXIT_HELP}""")
# Plain strings: a click.Path would turn https://example.com/a.jpg into https:/example.com/a.jpg.
@click.argument("paths", nargs=-1, required=True)
@click.option("-r", "--recursive", is_flag=True, help="Descend into sub-folders.")
@click.option("-o", "--out", metavar="FILE", callback=_out_path,
              help="Write one row per image to FILE: .csv, .parquet or .jsonl ('-': JSON Lines on stdout). "
                   "Default: a readable table on stdout, unless --sidecars or --write-metadata is given.")
@click.option("--sidecars", is_flag=True,
              help="Write a JSON file beside each image, named after the whole file name (cat.jpg -> "
                   "cat.jpg.json), with tags, title, description.")
@click.option("--force", is_flag=True,
              help="With --sidecars, replace sidecars we did not write; with --write-metadata, replace "
                   "an existing default title and description, and our keywords from a run in another "
                   "language.")
@click.option("--write-metadata", is_flag=True,
              help="Write tags, title and description into each image's XMP (and IPTC for JPEG); "
                   "title and description per language (x-default plus --lang), so a second language is "
                   "added beside the first; pixels are never touched.")
@click.option("--learned", "learned_model", metavar="MODEL", default=None,
              type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="A label model saved by 'imagetags learn': its labels above their thresholds join the "
                   "table (a 'learned' column), the sidecars and the XMP keywords.")
@click.option("--dry-run", is_flag=True,
              help="Print what the run would need (calls, credits, time) and stop: decodes every image to "
                   "find unreadable ones; needs no API key; times the offline tagger on "
                   f"{DRY_RUN_SAMPLE} images (kept in the cache).")
@_run_options
@_expected_errors
def tag(paths: Sequence[str], recursive: bool, out: str | None, sidecars: bool, force: bool,
        write_metadata: bool, learned_model: Path | None, dry_run: bool, **run: Any) -> None:
    """Tag image files, folders and http(s):// URLs (JPEG, PNG, WebP; GIF, BMP, TIFF, HEIC/HEIF, AVIF are converted).

    Folders are read for files with an image extension; hidden files are
    skipped, and one line on stderr names the other files and (without -r)
    the sub-folders passed over. Results come from the same cache, pacing and
    retries as the library's generate().
    """
    kwargs = _generate_kwargs(**run)
    # Loaded before any tagging: a model from another installation is refused up front.
    label_model = _load_label_model(learned_model) if learned_model is not None else None
    urls = [p for p in paths if is_url(p)]
    search = export.search_images([p for p in paths if not is_url(p)], recursive=recursive)
    images = [str(p) for p in search.images] + urls
    labels = [*search.labels, *urls]
    for skipped in (search.skipped_summary(), search.bad_names_summary()):
        if skipped:
            click.echo(f"imagetags: {skipped}", err=True)
    if not images:
        click.echo("imagetags: no images found", err=True)
        sys.exit(EXIT_OK)
    frame = pd.DataFrame({"path": images})

    if dry_run:
        est = engine.estimate(frame, col="path", lang=kwargs["lang"], backend=kwargs["backend"],
                              api_key=kwargs["api_key"], base_url=kwargs["base_url"],
                              cache_dir=kwargs["cache_dir"], rate_limit=kwargs["rate_limit"],
                              time_sample=DRY_RUN_SAMPLE,
                              **{k: kwargs[k] for k in ("model", "labels", "instructions", "max_side")
                                 if k in kwargs})
        click.echo(_estimate_text(est))
        if est.backend == "imagedescriber" and kwargs["api_key"] is None and C.ENV_API_KEY not in os.environ:
            click.echo(f"imagetags: no API key is set; the real run needs one: export {C.ENV_API_KEY}=... "
                       "(or --backend local, no key needed)", err=True)
        for _pos, message in sorted(est.errors.items()):
            click.echo(f"  unreadable: {message}", err=True)
        sys.exit(EXIT_OK)

    results = engine.generate(frame, col="path", **kwargs)
    all_ok = _report_run(results)
    if label_model is not None:
        results = _add_learned(results, label_model, kwargs["cache_dir"], progress=kwargs.get("progress", False))

    if out == "-":
        for line in export.json_lines(results):
            click.echo(line, nl=False)
    elif out is None and not sidecars and not write_metadata:
        # A person at a terminal: a readable table (machine-readable: --out - for JSON Lines).
        width = shutil.get_terminal_size((120, 24)).columns
        click.echo(export.text_table(_with_learned_tags(results), "path", width=width, labels=labels,
                                     lang=kwargs["lang"], dim=True), nl=False)
    elif out is not None:
        written = export.write_table(results, out)
        click.echo(f"imagetags: wrote {len(results)} rows to {written}", err=True)

    if urls and (sidecars or write_metadata):
        # A downloaded image has no file here to write beside or into.
        click.echo(f"imagetags: {len(urls)} URL{'s' if len(urls) != 1 else ''} tagged but given no "
                   "sidecar or metadata: there is no local file to write to", err=True)
        on_disk = results[~results["path"].map(is_url)]
    else:
        on_disk = results
    if sidecars:
        report = export.write_sidecars(on_disk, "path", force=force)
        click.echo(f"imagetags: wrote {len(report.written)} sidecar(s)", err=True)
        if report.migrated:
            click.echo(f"imagetags: removed {len(report.migrated)} sidecar(s) an earlier version named "
                       f"without the image's extension (e.g. {report.migrated[0].name}); each image now has "
                       "<name>.<ext>.json", err=True)
        for refused in report.refused:
            all_ok = False
            click.echo(f"  not replaced: {refused} exists and was not written by imagetags "
                       "(use --force to replace it)", err=True)

    if write_metadata:
        all_ok = _write_all_metadata(on_disk, force, kwargs) and all_ok

    sys.exit(EXIT_OK if all_ok else EXIT_PARTIAL)


def _load_label_model(folder: Path) -> Any:
    from .learn import LabelModel

    return LabelModel.load(folder)


def _add_learned(results: pd.DataFrame, model: Any, cache_dir: Any, progress: bool) -> pd.DataFrame:
    """``results`` plus ``learned`` and ``learned_scores`` for the rows that were tagged (a
    failed row keeps its own error; the offline tagger's run already cached the embeddings)."""
    ok = results["error"].isna() if "error" in results.columns else pd.Series(True, index=results.index)
    out = results.copy()
    out["learned"] = pd.Series([None] * len(out), index=out.index, dtype=object)
    out["learned_scores"] = pd.Series([None] * len(out), index=out.index, dtype=object)
    if ok.any():
        got = model.predict(results.loc[ok, ["path"]], col="path", cache_dir=cache_dir, progress=progress)
        for column in ("learned", "learned_scores"):
            out.loc[ok, column] = got[column]
    return out


def _with_learned_tags(results: pd.DataFrame) -> pd.DataFrame:
    """For the terminal table: each learned label after the tags, marked as learned."""
    if "learned" not in results.columns:
        return results
    shown = results.copy()
    shown["tags"] = [
        [*tags, *(f"{label} (learned)" for label in learned)] if isinstance(learned, list) and
        isinstance(tags, (list, tuple)) else tags for tags, learned in zip(results["tags"], results["learned"])]
    return shown


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"~{max(1, round(seconds))} s"
    if seconds < 90 * 60:
        return f"~{seconds / 60:.0f} min"
    return f"~{seconds / 3600:.1f} h"


def _estimate_text(est: Any) -> str:
    sampled = (f"{est.timed_sample} image{'s' if est.timed_sample != 1 else ''} tagged and cached "
               "to time it") if est.timed_sample else ""
    if est.calls_needed == 0:
        time_line = "none: nothing left to tag" + (f" ({sampled})" if sampled else "")
    elif est.seconds_needed != est.seconds_needed:  # NaN: neither paced nor sampled
        time_line = "not paced (no rate limit)"
    elif est.timed_sample:
        time_line = (f"{_duration(est.seconds_needed)} (timed on {est.timed_sample} image"
                     f"{'s' if est.timed_sample != 1 else ''}, which are now tagged and cached)")
    else:
        time_line = f"{_duration(est.seconds_needed)} at {est.rate_limit}"
    return "\n".join([
        f"images:         {est.rows} ({est.unique_images} unique, {est.cached} cached, "
        f"{est.invalid} unreadable)",
        f"calls needed:   {est.calls_needed}",
        *([f"credits needed: {est.credits_needed:g}"] if charges_credits(est.backend) else []),
        f"time needed:    {time_line}",
        f"backend:        {est.backend}",
        "(dry run: nothing was sent)",
    ])


def _write_all_metadata(results: pd.DataFrame, force: bool, kwargs: dict[str, Any]) -> bool:
    """Write metadata for every tagged row; True when none failed or changed meanwhile."""
    lang = kwargs["lang"]
    options = {k: kwargs[k] for k in ("model", "labels", "instructions", "max_side", "precision") if k in kwargs}
    with engine.ResultMemory(lang, backend=kwargs["backend"], api_key=kwargs["api_key"],
                             base_url=kwargs["base_url"], cache_dir=kwargs["cache_dir"], **options) as memory:
        done = export.write_metadata_rows(results, "path", lang=lang, overwrite=force, memory=memory)
    for message in done.failed:
        click.echo(f"  metadata not written: {message}", err=True)
    for message in done.changed:
        click.echo(f"  metadata not written: {message}", err=True)
    click.echo(f"imagetags: wrote metadata into {len(done.written)} image(s) ({lang}: title and description "
               f"as XMP '{lang}' alternatives)", err=True)
    if done.untagged:
        n = len(done.untagged)
        click.echo(f"imagetags: left {n} image{'s' if n != 1 else ''} without tags as {'they were' if n != 1 else 'it was'} "
                   "(nothing to write)", err=True)
    if done.through_links:
        n = len(done.through_links)
        click.echo(f"imagetags: wrote through {n} symbolic link{'s' if n != 1 else ''} into the file"
                   f"{'s' if n != 1 else ''} linked to (the link{'s' if n != 1 else ''} kept as such)", err=True)
    if done.kept:
        click.echo("imagetags: kept what the images already had (--force replaces it; the photographer's "
                   "own keywords are never removed):", err=True)
        for what, count in done.kept.items():
            click.echo(f"  {what} (in {count} image{'s' if count != 1 else ''})", err=True)
    return not done.failed and not done.changed


# --------------------------------------------------------------------------- alt-text


@main.command("alt-text", epilog=f"""\b
Examples:
  imagetags alt-text site/index.html -o site/index.alt.html
  imagetags alt-text site/index.html -o site/index.html     # in place
  imagetags alt-text site/blog/post.html --root site > post.html

{EXIT_HELP}""")
@click.argument("page", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", "output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the page here (may be the page itself); default: stdout.")
@click.option("--root", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Folder that src=\"/...\" paths start from, and that no image is read from outside "
                   "of (default: the page's folder).")
@click.option("--min-confidence", type=click.FloatRange(0.0, 1.0), default=export.ALT_MIN_CONFIDENCE,
              show_default=True,
              help="Leave images the tagger is less sure of without alt text (listed on stderr).")
@_run_options
@_expected_errors
def alt_text(page: Path, output: Path | None, root: Path | None, min_confidence: float, **run: Any) -> None:
    """Fill missing alt and title attributes of a page's local <img> images.

    alt gets the image's description and title its title. Only absent
    attributes are added; images marked decorative with alt="", remote and
    data: images are left alone. Every other byte of the page stays as it was.
    """
    kwargs = _generate_kwargs(**run)
    report = export.fill_alt_text(page, output, root=root, min_confidence=min_confidence, **kwargs)
    if output is None:
        click.echo(report.html, nl=False)  # bytes: written as they are, whatever the page's encoding
    click.echo(f"imagetags: {report.images} <img> tags: {report.filled} filled, {report.already_done} "
               f"already had alt and title, {report.decorative} decorative (alt=\"\"), {report.remote} not local, "
               f"{len(report.failed)} failed, {len(report.unsure)} left without alt text (not sure enough)", err=True)
    for src in report.unsure:
        click.echo(f"  not sure what this shows, no alt text written: {src}", err=True)
    for src in report.outside:
        click.echo(f"  outside the site's root ({root or page.parent}), not read: {src}", err=True)
    if report.failed:
        click.echo("failures by error code:", err=True)
        if report.results is not None:
            for line in failure_summary(report.results):
                click.echo(line, err=True)
    sys.exit(EXIT_OK if not report.failed else EXIT_PARTIAL)


# --------------------------------------------------------------------------- hand-off


EXPORT_TARGETS = ("label-studio", "hf", "fiftyone")


@main.command("export", epilog=f"""\b
Examples:
  imagetags tag photos/ -r --out results.parquet
  imagetags export --to label-studio results.parquet tasks.json --document-root photos/
  imagetags export --to hf results.parquet dataset/            # metadata.jsonl + symlinked images
  imagetags export --to fiftyone results.parquet fo_export/

{EXIT_HELP}""")
@click.option("--to", "target", type=click.Choice(EXPORT_TARGETS), required=True, help="The tool to hand the tags to.")
@click.argument("results", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--col", default="path", show_default=True, help="The table's column of image paths.")
@click.option("--document-root", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="label-studio: the folder Label Studio serves local files from "
                   "(LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT); image URLs become /data/local-files/?d=...")
@click.option("--image-root", metavar="URL", default=None,
              help="label-studio: a URL prefix where the images are served (paths relative to --document-root).")
@click.option("--model-version", metavar="TEXT", default=None,
              help="label-studio: the predictions' model_version (default: the backend, and the model where known).")
@click.option("--copy", is_flag=True, help="hf: copy the images into OUT instead of symlinking them.")
@_expected_errors
def export_command(target: str, results: Path, out: Path, col: str, document_root: Path | None,
                   image_root: str | None, model_version: str | None, copy: bool) -> None:
    """Hand a results table (CSV, JSONL or Parquet from 'imagetags tag --out') to another tool.

    label-studio writes OUT (tasks with the tags as predictions) and OUT's
    .label_config.xml beside it; hf writes an ImageFolder (OUT/metadata.jsonl);
    fiftyone writes files FiftyOne imports as an image classification dataset.
    """
    frame = export.read_table(results)
    if target == "label-studio":
        written = export.to_label_studio(frame, out, col=col, document_root=document_root, image_root=image_root,
                                         model_version=model_version)
        click.echo(f"imagetags: wrote {len(frame)} task(s) to {written} and the labelling config to "
                   f"{export.label_studio_config_path(written)}", err=True)
    elif target == "hf":
        export.to_hf_imagefolder(frame, out, col=col, copy=copy)
        click.echo(f"imagetags: wrote an ImageFolder dataset to {out} (load_dataset('imagefolder', "
                   f"data_dir={str(out)!r}))", err=True)
    else:
        export.write_fiftyone(frame, out, col=col)
        click.echo(f"imagetags: wrote a FiftyOne image classification export to {out}", err=True)
    sys.exit(EXIT_OK)


@main.command("import-labels", epilog=f"""\b
Examples:
  imagetags import-labels export.json                       # -> labels.json
  imagetags import-labels export.json -o review/labels.json --document-root photos/

{EXIT_HELP}""")
@click.argument("export_file", metavar="EXPORT", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=Path("labels.json"),
              show_default=True, help="The review widget's labels file (created, or added to).")
@click.option("--document-root", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="For tasks without data.path: the folder their /data/local-files/ URLs start from.")
@click.option("--image-root", metavar="URL", default=None,
              help="For tasks without data.path: the URL prefix their images were served under.")
@_expected_errors
def import_labels(export_file: Path, output: Path, document_root: Path | None, image_root: str | None) -> None:
    """Turn a Label Studio JSON export into the review widget's labels file.

    Each task's latest annotation that was not skipped becomes a reviewed
    edit; df.imagetags.review(path=OUTPUT) shows them.
    """
    reviewed = export.from_label_studio(export_file, document_root=document_root, image_root=image_root)
    n = export.write_review_labels(reviewed, output)
    rejected = sum(len(r) for r in reviewed["rejected"])
    click.echo(f"imagetags: wrote {n} reviewed image(s) to {output} ({rejected} predicted tag(s) removed by "
               "annotators)", err=True)
    sys.exit(EXIT_OK)


# --------------------------------------------------------------------------- learn


@main.command("learn", epilog=f"""\b
Examples:
  imagetags learn labels.csv --out my-labels          # columns: path, label
  imagetags learn review/labels.json --out my-labels  # the review widget's file
  imagetags tag photos/ --learned my-labels --sidecars

\b
A label cell holds one label, several as a JSON list (["beach", "dog"]), or
nothing (not labelled). A 'rejected' column, or the tags removed in the review
widget, are examples of what an image is not.

{EXIT_HELP}""")
@click.argument("labels_file", metavar="LABELS", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder to save the model in (created; 'imagetags tag --learned' reads it).")
@click.option("--col", default="path", show_default=True, help="The table's column of image paths.")
@click.option("--label-col", default="label", show_default=True, help="The table's column of labels.")
@click.option("--min-precision", type=click.FloatRange(0.0, 1.0, min_open=True), default=0.9, show_default=True,
              help="Each label emits only at a threshold where cross-validated precision reaches this.")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help=f"Embedding cache (default ${C.ENV_CACHE_DIR} or the per-user cache folder).")
@click.option("--no-progress", is_flag=True, help="Do not show the progress bar.")
@_expected_errors
def learn_command(labels_file: Path, out_dir: Path, col: str, label_col: str, min_precision: float,
                  cache_dir: Path | None, no_progress: bool) -> None:
    """Learn your own labels from a table of image paths and labels (CSV, Parquet,
    JSON Lines) or a review widget's labels.json, and save the model.

    Prints one line per label: its examples, cross-validated precision and
    recall, and why a label emits nothing when it cannot be trusted yet.
    """
    from .learn import labels_from_review, learn

    if labels_file.suffix.lower() == ".json":
        frame = labels_from_review(labels_file, image_column=col)
        label_col = "label"
    else:
        frame = export.read_table(labels_file)
    if col not in frame.columns:
        _fail(f"{labels_file} has no column {col!r} (it has {', '.join(map(str, frame.columns))}); "
              "pass --col with the column of image paths", EXIT_USAGE)
    model = learn(frame, labels=label_col, col=col, cache_dir=cache_dir, min_precision=min_precision,
                  progress=not no_progress)
    folder = model.save(out_dir)
    report = model.report()
    with pd.option_context("display.width", shutil.get_terminal_size((120, 24)).columns,
                           "display.max_colwidth", 80, "display.max_rows", None):
        click.echo(report.to_string(index=False))
    emitting = int(report["threshold"].notna().sum())
    click.echo(f"imagetags: saved a model of {len(report)} label(s), {emitting} emitting, to {folder}", err=True)
    sys.exit(EXIT_OK)


# --------------------------------------------------------------------------- server commands

# `imagetags serve` and `imagetags keys` live with the server; that module imports
# without the server extra (Starlette/uvicorn load inside `serve` only).
main.add_command(serve)
main.add_command(keys)


__all__ = ["main", "tag", "learn_command", "alt_text", "export_command", "import_labels", "failure_summary", "EXIT_OK", "EXIT_PARTIAL", "EXIT_FATAL",
           "EXIT_USAGE", "EXIT_INTERRUPTED"]

if __name__ == "__main__":  # pragma: no cover
    main()
