"""The ``imagetags`` command, run as a real subprocess (or, where start-up time is
all a subprocess would add, click's runner) against a real loopback API.

The API is the project's FakeImageDescriber (a stdlib HTTP server on
127.0.0.1); the command finds it through the same environment variables a user
sets. Every test has its own cache directory (conftest's autouse fixture).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import API_KEY, make_photo
from PIL import Image, IptcImagePlugin

from imagetags_df import _constants as C
from imagetags_df import cli, export
from imagetags_df.testing import FakeImageDescriber

#: The API's default pace is 30/min (2 s apart); the fake server has no limit, so
#: tests run at 100/s and stay fast. --dry-run tests keep the default on purpose.
FAST = ["--rate-limit", "100/s", "--no-progress"]


def run(args: list[str], *, api: FakeImageDescriber | None = None, key: str | None = API_KEY,
        cwd: Path | None = None, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)  # conftest already points IMAGETAGS_CACHE_DIR at a temp dir
    if api is not None:
        env["IMAGEDESCRIBER_BASE_URL"] = api.url
    if key is not None:
        env["IMAGEDESCRIBER_API_KEY"] = key
    env.update(extra_env or {})
    return subprocess.run([sys.executable, "-m", "imagetags_df", *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=60)


def invoke(args: list[str], *, api: FakeImageDescriber, key: str | None = API_KEY):
    """The same command in-process (click's runner): no interpreter start-up, for the slower cases."""
    env = {"IMAGEDESCRIBER_BASE_URL": api.url, "IMAGEDESCRIBER_API_KEY": key}
    return CliRunner().invoke(cli.main, args, env=env, catch_exceptions=False)


@pytest.fixture
def folder(tmp_path) -> Path:
    """Photos in a folder whose name has a space and non-ASCII letters, one in a sub-folder."""
    top = tmp_path / "Fotos 2024 – café"
    make_photo(top / "猫 on sofa.jpg", seed=1)
    make_photo(top / "beach.png", seed=2, fmt="PNG")
    make_photo(top / "trip" / "mountain.webp", seed=3, fmt="WEBP")
    make_photo(top / ".thumbnail.jpg", seed=4)
    return top


def expected_paths(top: Path) -> list[str]:
    return [str(top / "beach.png"), str(top / "猫 on sofa.jpg"), str(top / "trip" / "mountain.webp")]


def fake_tags(path: str) -> list[str]:
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return [f"tag-{digest[:6]}", "lang-en", "fake"]


# --------------------------------------------------------------------------- help


def test_tag_help_states_the_real_default_output(folder, api):
    text = " ".join(CliRunner().invoke(cli.main, ["tag", "--help"], terminal_width=200).output.split())
    assert "Default: a readable table on stdout" in text
    assert "the default when no other output" not in text
    # ...and that is what a run without --out prints.
    proc = invoke(["tag", str(folder / "beach.png"), *FAST], api=api)
    assert proc.stdout.split()[:3] == ["file", "title", "tags"]


def test_help_of_every_command_has_examples_and_exit_statuses():
    top = run(["--help"], key=None)
    assert top.returncode == 0 and "Examples:" in top.stdout
    assert "tag" in top.stdout and "alt-text" in top.stdout
    runner = CliRunner()
    for name, _command in cli.main.commands.items():
        out = runner.invoke(cli.main, [name, "--help"])
        assert out.exit_code == 0, name
        assert "Example" in out.output, f"{name} --help has no example"
    for name in ("tag", "alt-text"):
        text = runner.invoke(cli.main, [name, "--help"]).output
        assert "Exit status:" in text and "3    some images failed" in text


# --------------------------------------------------------------------------- tag: outputs


@pytest.mark.parametrize("name", ["results.csv", "results.parquet", "results.jsonl"])
def test_tag_folder_writes_every_format(folder, api, tmp_path, name):
    out = tmp_path / "out dir ü" / name
    out.parent.mkdir()
    proc = invoke(["tag", str(folder), "--recursive", "--out", str(out), *FAST], api=api)
    assert proc.exit_code == cli.EXIT_OK, proc.stderr
    assert "3 images: 3 tagged (0 from cache), 0 failed; 3 credits used" in proc.stderr
    if name.endswith(".csv"):
        df = pd.read_csv(out)
        df["tags"] = df["tags"].map(json.loads)
    elif name.endswith(".parquet"):
        df = pd.read_parquet(out)
        df["tags"] = df["tags"].map(list)
    else:
        df = pd.read_json(out, lines=True)
    assert list(df["path"]) == expected_paths(folder)
    assert [list(t) for t in df["tags"]] == [fake_tags(p) for p in df["path"]]
    assert df["title"].str.startswith("Image ").all()
    assert df["description"].eq("A fake description in en.").all()
    assert df["error"].isna().all() and df["error_code"].isna().all()
    assert {"request_id", "credits_used", "cached", "backend"} <= set(df.columns)
    assert api.count("ok") == 3


def test_tag_without_outputs_prints_a_table_and_second_run_is_cached(folder, api):
    first = run(["tag", str(folder / "beach.png"), "--no-progress", "--lang", "de"], api=api)
    assert first.returncode == 0, first.stderr
    header, row = first.stdout.splitlines()
    assert header.split() == ["file", "title", "tags"]
    assert row.startswith("beach.png") and "lang-de, fake" in row and "Image " in row
    again = run(["tag", str(folder / "beach.png"), "--no-progress", "--lang", "de", "--out", "-"], api=api)
    assert json.loads(again.stdout)["cached"] is True
    assert api.count() == 1  # the second run was answered from the cache


def test_skipped_files_and_sub_folders_are_summarised_in_one_line(folder, api):
    (folder / "notes.txt").write_text("not an image", encoding="utf-8")
    (folder / "list.csv").write_text("a,b", encoding="utf-8")
    (folder / "beach.png.json").write_text("{}", encoding="utf-8")  # a sidecar: expected, not reported
    (folder / "raw").mkdir()
    proc = invoke(["tag", str(folder), "--out", "-", *FAST], api=api)
    assert proc.exit_code == cli.EXIT_OK, proc.stderr
    skipped = [line for line in proc.stderr.splitlines() if "skipped" in line]
    assert skipped == ["imagetags: skipped 2 files that are not images (list.csv, notes.txt) and 2 sub-folders "
                       "(raw, trip; use --recursive to include them)"]
    assert len(proc.stdout.splitlines()) == 2
    recursive = invoke(["tag", str(folder), "-r", "--out", "-", *FAST], api=api)
    assert "skipped 2 files that are not images (list.csv, notes.txt)\n" in recursive.stderr
    assert "sub-folder" not in recursive.stderr
    quiet = invoke(["tag", str(folder / "trip"), "--out", "-", *FAST], api=api)
    assert "skipped" not in quiet.stderr


def test_recursive_table_shows_relative_paths_aligned_for_wide_names(tmp_path, api):
    import unicodedata

    from wcwidth import wcswidth  # an independent measure of terminal columns

    top = tmp_path / "album"
    names = ["猫 on sofa.jpg", "plain.jpg", unicodedata.normalize("NFD", "ガイドブック.jpg"),
             unicodedata.normalize("NFD", "한국 여행.png"), unicodedata.normalize("NFD", "café.jpg"),
             "trip/山の上/頂上.webp", "trip/b.jpg"]
    for seed, name in enumerate(names):
        make_photo(top / name, seed=seed, fmt={"png": "PNG", "webp": "WEBP"}.get(name.rsplit(".", 1)[1], "JPEG"))
    env = {"IMAGEDESCRIBER_BASE_URL": api.url, "IMAGEDESCRIBER_API_KEY": API_KEY, "COLUMNS": "100"}
    proc = CliRunner().invoke(cli.main, ["tag", str(top), "-r", "--lang", "zh", *FAST], env=env,
                              catch_exceptions=False)
    assert proc.exit_code == cli.EXIT_OK, proc.stderr
    header, *rows = proc.stdout.splitlines()
    assert len(rows) == len(names)
    shown = [unicodedata.normalize("NFC", row.split("  ")[0]).strip() for row in rows]
    assert "trip/山の上/頂上.webp" in shown and "trip/b.jpg" in shown and "猫 on sofa.jpg" in shown
    assert unicodedata.normalize("NFC", "ガイドブック.jpg") in shown
    # Every title and every tag list starts in the same terminal column as its header.
    title_col, tags_col = wcswidth(header[:header.index("title")]), wcswidth(header[:header.index("tags")])
    for row in rows:
        assert wcswidth(row[:row.index("Image ")]) == title_col, row
        assert wcswidth(row[:row.index("tag-")]) == tags_col, row


def test_dry_run_reports_estimate_and_calls_nothing(folder, api):
    proc = run(["tag", str(folder), "-r", "--dry-run", "--no-progress"], api=api)
    assert proc.returncode == 0, proc.stderr
    assert "images:         3 (3 unique, 0 cached" in proc.stdout
    assert "calls needed:   3" in proc.stdout and "credits needed: 3" in proc.stdout
    assert "at 30/min" in proc.stdout
    assert api.count() == 0


def test_dry_run_decode_checks_files_the_real_run_would_fail_on(folder, api):
    good = (folder / "beach.png").read_bytes()
    (folder / "truncated.png").write_bytes(good[: len(good) // 2])  # right header, data cut off
    (folder / "garbage.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 64)
    dry = run(["tag", str(folder), "--dry-run", *FAST], api=api)
    assert dry.returncode == cli.EXIT_OK, dry.stderr
    assert "images:         4 (4 unique, 0 cached, 2 unreadable)" in dry.stdout
    assert "calls needed:   2" in dry.stdout and "credits needed: 2" in dry.stdout
    assert "truncated.png" in dry.stderr and "garbage.jpg" in dry.stderr
    assert api.count() == 0
    # ...and the real run fails on exactly those.
    real = run(["tag", str(folder), "--out", "-", *FAST], api=api)
    failed = {Path(r["path"]).name for r in map(json.loads, real.stdout.splitlines()) if r["error"]}
    assert failed == {"truncated.png", "garbage.jpg"} and api.count() == 2


def test_dry_run_prices_an_api_run_without_a_key(folder):
    proc = run(["tag", str(folder), "-r", "--backend", "imagedescriber", "--dry-run", "--no-progress"], key=None)
    assert proc.returncode == cli.EXIT_OK, proc.stderr
    assert "calls needed:   3" in proc.stdout and "credits needed: 3" in proc.stdout
    assert "backend:        imagedescriber" in proc.stdout and "at 30/min" in proc.stdout
    assert "no API key is set; the real run needs one: export IMAGEDESCRIBER_API_KEY=" in proc.stderr
    # The real run still refuses, with the same advice.
    real = run(["tag", str(folder), "--backend", "imagedescriber", *FAST], key=None)
    assert real.returncode == cli.EXIT_FATAL and "export IMAGEDESCRIBER_API_KEY=" in real.stderr


def test_dry_run_times_the_offline_tagger_on_a_cached_sample(tmp_path):
    samples = Path(__file__).resolve().parent.parent / "data" / "samples"
    album = tmp_path / "album"
    album.mkdir()
    names = ["chelsea_cat.jpg", "coffee.jpg", "rocket.jpg", "motorcycle.jpg", "flower.jpg"]
    for name in names:
        (album / name).write_bytes((samples / name).read_bytes())
    dry = run(["tag", str(album), "--backend", "local", "--dry-run", "--no-progress"], key=None)
    assert dry.returncode == cli.EXIT_OK, dry.stderr
    lines = dict(line.split(":", 1) for line in dry.stdout.splitlines() if ":" in line)
    assert lines["images"].strip() == "5 (5 unique, 3 cached, 0 unreadable)"
    assert lines["calls needed"].strip() == "2"
    assert "timed on 3 images, which are now tagged and cached" in lines["time needed"]
    assert re.search(r"~\d+ (s|min)", lines["time needed"]), lines["time needed"]
    # Three images, all sampled: nothing is left, and all three really were tagged.
    few = tmp_path / "few"
    few.mkdir()
    for name in ("grass.jpg", "brick.jpg", "retina.jpg"):  # none of them cached yet
        (few / name).write_bytes((samples / name).read_bytes())
    done = run(["tag", str(few), "--backend", "local", "--dry-run", "--no-progress"], key=None)
    assert "calls needed:   0" in done.stdout, done.stdout
    assert "time needed:    none: nothing left to tag (3 images tagged and cached to time it)" in done.stdout
    again = run(["tag", str(few), "--backend", "local", "--dry-run", "--no-progress"], key=None)
    assert "images:         3 (3 unique, 3 cached, 0 unreadable)" in again.stdout
    # The sampled images were really tagged: the run reuses them.
    real = run(["tag", str(album), "--backend", "local", "--out", "-", "--no-progress"], key=None)
    rows = [json.loads(line) for line in real.stdout.splitlines()]
    assert sum(r["cached"] for r in rows) == 3 and all(r["error"] is None for r in rows)
    assert "cat" in next(r["tags"] for r in rows if r["path"].endswith("chelsea_cat.jpg"))


def test_local_backend_on_sample_photos_offline(tmp_path):
    """The offline tagger: no key, no network; a GIF is converted by the core library."""
    samples = Path(__file__).resolve().parent.parent / "data" / "samples"
    album = tmp_path / "Album 相册"
    album.mkdir()
    for name in ("chelsea_cat.jpg", "coffee.jpg", "coins.png"):
        (album / name).write_bytes((samples / name).read_bytes())
    Image.open(samples / "rocket.jpg").save(album / "rocket.gif")
    out = tmp_path / "tags.csv"
    proc = run(["tag", str(album), "--backend", "local", "--out", str(out), "--sidecars", "--write-metadata",
                "--no-progress"], key=None)
    # The GIF, which cannot hold XMP, has no tags: nothing to write, so no failure either.
    assert proc.returncode == cli.EXIT_OK, proc.stderr
    assert "left 2 images without tags as they were" in proc.stderr
    df = pd.read_csv(out)
    assert df["error"].isna().all() and (df["backend"] == "local").all()
    tags = dict(zip(df["path"].map(lambda p: Path(p).name), df["tags"].map(json.loads)))
    assert "cat" in tags["chelsea_cat.jpg"] and "coffee" in tags["coffee.jpg"]
    # Nothing recognised is no failure: an answer with no content tag (the 256-colour GIF
    # leaves the rocket at .44, below what a tag needs).
    assert tags["coins.png"] == [] and tags["rocket.gif"] == []
    assert json.loads((album / "rocket.gif.json").read_text(encoding="utf-8"))["tags"] == tags["rocket.gif"]

    dry = run(["tag", str(album), "--backend", "local", "--dry-run", "--no-progress"], key=None)
    assert "calls needed:   0" in dry.stdout and "4 cached" in dry.stdout  # metadata rewrites stay cached


def test_phone_formats_heic_heif_and_avif_are_read_and_converted(tmp_path, api):
    """Real HEIC/HEIF (pillow-heif's HEVC encoder) and AVIF (Pillow's own) files, as phones write them."""
    import pillow_heif

    pillow_heif.register_heif_opener()  # in this process, to write the files; the command runs in its own

    phone = tmp_path / "DCIM 相机"
    phone.mkdir()
    phone_file = phone / "IMG_0001.HEIC"
    for seed, (name, fmt) in enumerate([("IMG_0001.HEIC", "HEIF"), ("IMG_0002.heif", "HEIF"),
                                        ("IMG_0003.avif", "AVIF")]):
        with Image.open(make_photo(tmp_path / f"src{seed}.png", size=(400, 300), seed=11 + seed, fmt="PNG")) as im:
            im.save(phone / name, format=fmt, quality=80)
    clear = Image.new("RGBA", (200, 100), (200, 30, 30, 255))
    clear.paste((0, 0, 0, 0), (0, 0, 100, 100))  # half transparent: must stay so (PNG, not JPEG)
    clear.save(phone / "alpha.avif", format="AVIF", quality=80)
    assert phone_file.read_bytes()[4:12] == b"ftypheic"
    (phone / "notes.txt").write_text("not an image", encoding="utf-8")
    names = ["IMG_0001.HEIC", "IMG_0002.heif", "IMG_0003.avif", "alpha.avif", "notes.txt"]
    proc = run(["tag", *(str(phone / n) for n in names), "--out", "-", *FAST], api=api)
    assert proc.returncode == cli.EXIT_PARTIAL, proc.stderr  # only notes.txt fails
    rows = {Path(r["path"]).name: r for r in map(json.loads, proc.stdout.splitlines())}
    assert all(rows[n]["error"] is None for n in names[:4]), rows
    # The API saw JPEG (or PNG where there is transparency), never a format it refuses.
    assert sorted(c.mime for c in api.calls) == ["image/jpeg"] * 3 + ["image/png"]
    written = run(["tag", str(phone_file), "--write-metadata", "--sidecars", *FAST], api=api)
    assert written.returncode == cli.EXIT_PARTIAL  # exiv2 reads HEIF metadata but cannot write it
    assert "IMG_0001.HEIC: metadata cannot be written into HEIC/HEIF/AVIF files" in written.stderr
    assert json.loads((phone / "IMG_0001.HEIC.json").read_text(encoding="utf-8"))["image"] == "IMG_0001.HEIC"
    message = rows["notes.txt"]["error"]
    assert "HEIC/HEIF, AVIF" in message and "use JPEG, PNG or WebP" not in message
    assert rows["notes.txt"]["error_code"] is None


# --------------------------------------------------------------------------- tag: exit statuses


def test_partial_failure_exit_status_and_summary_by_code(folder, api, tmp_path):
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a JPEG")
    api.script(hashlib.sha256((folder / "beach.png").read_bytes()).hexdigest(), ["2004"])
    out = tmp_path / "r.jsonl"
    proc = run(["tag", str(folder), "--out", str(out), *FAST], api=api)
    assert proc.returncode == cli.EXIT_PARTIAL, proc.stderr
    assert "3 images: 1 tagged (0 from cache), 2 failed" in proc.stderr
    assert "2004 invalid image format: 1" in proc.stderr
    assert "no API code (unreadable image, or no answer from the service): 1" in proc.stderr
    assert "broken.jpg" in proc.stderr
    assert "Traceback" not in proc.stderr
    df = pd.read_json(out, lines=True)  # the results are still written, errors included
    by_name = {Path(p).name: r for p, r in zip(df["path"], df.to_dict("records"))}
    assert by_name["beach.png"]["error_code"] == 2004
    assert pd.isna(by_name["broken.jpg"]["error_code"]) and "broken.jpg" in by_name["broken.jpg"]["error"]
    assert pd.isna(by_name["猫 on sofa.jpg"]["error"])


def test_max_credits_stops_sending_and_says_so(folder, api):
    proc = invoke(["tag", str(folder), "-r", "--max-credits", "1", "--out", "-", *FAST], api=api)
    assert proc.exit_code == cli.EXIT_PARTIAL, proc.stderr
    assert "not sent (--max-credits reached or the run stopped): 2" in proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert sum(r["error"] is None for r in rows) == 1 and api.count() == 1


def test_bad_key_is_fatal_with_a_clear_message_and_no_key_echoed(folder, api):
    bad = "sk-wrong-secret-9f8e7d6c5b4a"
    proc = run(["tag", str(folder), "-r", "--out", str(folder / "r.csv"), *FAST], api=api, key=bad)
    assert proc.returncode == cli.EXIT_FATAL
    assert "API key was refused" in proc.stderr and "IMAGEDESCRIBER_API_KEY" in proc.stderr
    assert "1003" in proc.stderr
    assert bad not in proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr
    assert not (folder / "r.csv").exists()


PYTHON_SPEAK = ("api_key=", 'backend="', "rate_limit", "max_credits", "max_concurrency", "base_url", "cache_dir")


def test_missing_key_for_the_api_backend_says_how_to_set_it(folder):
    proc = run(["tag", str(folder), "--backend", "imagedescriber", *FAST], key=None)
    assert proc.returncode == cli.EXIT_FATAL
    assert "export IMAGEDESCRIBER_API_KEY=" in proc.stderr and "Traceback" not in proc.stderr
    # In flags and environment variables, not in the library's keyword arguments.
    assert "--api-key" in proc.stderr and "--backend local" in proc.stderr
    assert not [w for w in PYTHON_SPEAK if w in proc.stderr], proc.stderr


def test_error_messages_speak_flags_while_the_library_keeps_its_words(tmp_path):
    from imagetags_df import generate
    from imagetags_df._exceptions import ConfigurationError

    bad_rate = CliRunner().invoke(cli.main, ["tag", str(tmp_path), "--rate-limit", "fast"])
    assert bad_rate.exit_code == cli.EXIT_USAGE
    assert "Invalid value for '--rate-limit': 'fast' is not understood" in bad_rate.output
    assert not [w for w in PYTHON_SPEAK if w in bad_rate.output], bad_rate.output
    photo = str(make_photo(tmp_path / "p.jpg"))
    no_key = run(["tag", photo, "--base-url", "http://127.0.0.1:9", *FAST], key=None)
    assert no_key.returncode == cli.EXIT_FATAL
    assert "--backend auto with --base-url http://127.0.0.1:9 means a server" in no_key.stderr
    blank = run(["tag", photo, "--backend", "imagedescriber", "--api-key", " ", *FAST], key=None)
    assert blank.returncode == cli.EXIT_FATAL and "--api-key is empty" in blank.stderr
    no_model = run(["tag", photo, "--backend", "openai", *FAST], key=None)
    assert no_model.returncode == cli.EXIT_USAGE  # a missing option: wrong options, as --help says
    assert "--backend openai needs a model: pass --model gpt-4o-mini;" in no_model.stderr
    wrong = run(["tag", photo, "--backend", "local", "--model", "llava", *FAST], key=None)
    assert "--model only apply to --backend openai or ollama" in wrong.stderr
    for proc in (no_key, blank, no_model, wrong):
        assert not [w for w in (*PYTHON_SPEAK, 'model="', "model=") if w in proc.stderr], proc.stderr
    served = CliRunner().invoke(cli.main, ["serve", "--db", str(tmp_path / "k.sqlite3"), "--backend", "ollama"])
    assert served.exit_code == 1 and "--backend ollama needs a model: pass --model" in served.output
    assert "--rate-limit 'fast' is not understood" in CliRunner().invoke(
        cli.main, ["serve", "--db", str(tmp_path / "k.sqlite3"), "--backend", "local", "--rate-limit", "fast"]).output
    # The Python API is unchanged: it names its own arguments.
    with pytest.raises(ConfigurationError, match='(?s)Pass api_key=.*backend="local"'):
        generate(pd.DataFrame({"path": ["x.jpg"]}), backend="imagedescriber", cache_dir=False)


def test_api_key_flag_reaches_the_api_and_is_never_echoed(folder, api):
    proc = run(["tag", str(folder / "beach.png"), "--api-key", API_KEY, "--out", "-", *FAST], api=api, key=None)
    assert proc.returncode == cli.EXIT_OK, proc.stderr
    assert json.loads(proc.stdout)["backend"] == "imagedescriber" and api.count("ok") == 1
    bad = "sk-flag-secret-0a1b2c3d4e5f"
    refused = run(["tag", str(folder / "猫 on sofa.jpg"), "--api-key", bad, *FAST], api=api, key=None)
    assert refused.returncode == cli.EXIT_FATAL and "--api-key" in refused.stderr
    assert bad not in refused.stderr + refused.stdout


def test_missing_path_and_bad_options(tmp_path, api):
    missing = run(["tag", str(tmp_path / "no such folder"), *FAST], api=api)
    assert missing.returncode == cli.EXIT_FATAL
    assert "no such folder" in missing.stderr and "Traceback" not in missing.stderr
    runner = CliRunner()
    bad_ext = runner.invoke(cli.main, ["tag", str(tmp_path), "--out", "r.xlsx"])
    assert bad_ext.exit_code == cli.EXIT_USAGE and ".csv, .parquet or .jsonl" in bad_ext.output
    no_dir = runner.invoke(cli.main, ["tag", str(tmp_path), "--out", str(tmp_path / "nope" / "r.csv")])
    assert no_dir.exit_code == cli.EXIT_USAGE and "does not exist" in no_dir.output
    bad_rate = runner.invoke(cli.main, ["tag", str(tmp_path), "--rate-limit", "fast"])
    assert bad_rate.exit_code == cli.EXIT_USAGE and "30/min" in bad_rate.output
    assert api.count() == 0


# --------------------------------------------------------------------------- sidecars and metadata


def test_sidecars_refuse_foreign_files_until_forced(folder, api):
    foreign = folder / "beach.png.json"
    foreign.write_text('{"from": "another tool"}', encoding="utf-8")
    proc = invoke(["tag", str(folder), "--sidecars", *FAST], api=api)
    assert proc.exit_code == cli.EXIT_PARTIAL, proc.stderr
    assert "beach.png.json exists and was not written by imagetags" in proc.stderr and "--force" in proc.stderr
    assert foreign.read_text(encoding="utf-8") == '{"from": "another tool"}'
    ours = json.loads((folder / "猫 on sofa.jpg.json").read_text(encoding="utf-8"))
    assert ours["tags"] == fake_tags(str(folder / "猫 on sofa.jpg")) and ours["generator"] == "imagetags_df"
    assert proc.stdout == ""  # an output was asked for, so nothing goes to stdout

    forced = invoke(["tag", str(folder), "--sidecars", "--force", *FAST], api=api)
    assert forced.exit_code == cli.EXIT_OK, forced.stderr
    assert json.loads(foreign.read_text(encoding="utf-8"))["tags"] == fake_tags(str(folder / "beach.png"))
    assert api.count() == 2  # the second run came from the cache


def test_write_metadata_then_rerun_costs_nothing(folder, api):
    gif = make_photo(folder / "old.gif", seed=5, fmt="GIF")
    jpeg = folder / "猫 on sofa.jpg"
    before = {p: np.asarray(Image.open(p).convert("RGB")) for p in (jpeg, folder / "beach.png", gif)}
    gif_bytes = gif.read_bytes()
    expected_tags = fake_tags(str(jpeg))  # the fake API's tags name the bytes it was sent
    proc = run(["tag", str(folder), "--write-metadata", *FAST], api=api)
    assert proc.returncode == cli.EXIT_PARTIAL  # the GIF cannot hold XMP
    assert "old.gif: this format cannot hold XMP" in proc.stderr
    assert gif.read_bytes() == gif_bytes
    for path, pixels in before.items():
        assert np.array_equal(pixels, np.asarray(Image.open(path).convert("RGB"))), path
    with Image.open(jpeg) as im:
        desc = im.getxmp()["xmpmeta"]["RDF"]["Description"]
        iptc = IptcImagePlugin.getiptcinfo(im)
    assert desc["subject"]["Bag"]["li"] == expected_tags
    titles = {li["lang"]: li["text"] for li in desc["title"]["Alt"]["li"]}
    assert titles["x-default"] == titles["en"] and titles["en"].startswith("Image ")
    assert {li["lang"]: li["text"] for li in desc["description"]["Alt"]["li"]} == {
        "x-default": "A fake description in en.", "en": "A fake description in en."}
    assert [k.decode() for k in iptc[(2, 25)]] == expected_tags
    calls = api.count()
    assert calls == 3

    # The files' bytes changed, but not their pixels: no image is paid for twice.
    again = run(["tag", str(folder), "--write-metadata", *FAST], api=api)
    assert "3 tagged (3 from cache)" in again.stderr
    assert api.count() == calls


def test_write_metadata_in_a_second_language_adds_it_and_says_what_was_kept(folder, api):
    from imagetags_df.export import read_metadata

    photo = folder / "猫 on sofa.jpg"
    first = run(["tag", str(photo), "--write-metadata", "--lang", "en", *FAST], api=api)
    assert first.returncode == cli.EXIT_OK, first.stderr
    assert "kept" not in first.stderr
    second = run(["tag", str(photo), "--write-metadata", "--lang", "de", *FAST], api=api)
    assert second.returncode == cli.EXIT_OK, second.stderr
    assert "kept what the images already had (--force replaces it" in second.stderr
    assert "  keywords: those in en (in 1 image)" in second.stderr
    assert "  title: the existing default (in 1 image)" in second.stderr
    meta = read_metadata(photo)
    assert meta["descriptions"] == {"x-default": "A fake description in en.", "en": "A fake description in en.",
                                    "de": "A fake description in de."}
    assert "lang-en" in meta["tags"] and "lang-de" not in meta["tags"]
    forced = run(["tag", str(photo), "--write-metadata", "--lang", "de", "--force", *FAST], api=api)
    assert forced.returncode == cli.EXIT_OK and "kept" not in forced.stderr
    meta = read_metadata(photo)
    assert meta["description"] == "A fake description in de." and meta["descriptions"]["en"].endswith("en.")
    assert "lang-de" in meta["tags"] and "lang-en" not in meta["tags"]


# --------------------------------------------------------------------------- alt-text


def test_alt_text_leaves_images_the_offline_tagger_is_unsure_of_and_lists_them(tmp_path):
    """A screen reader must not read out noise: the brick texture (nothing recognised) gets
    no alt text and is named on stderr; the cat photo is described."""
    samples = Path(__file__).resolve().parent.parent / "data" / "samples"
    site = tmp_path / "site"
    site.mkdir()
    for name in ("chelsea_cat.jpg", "brick.jpg"):
        (site / name).write_bytes((samples / name).read_bytes())
    page = site / "index.html"
    page.write_text('<p><img src="chelsea_cat.jpg"> <img src="brick.jpg"></p>\n', encoding="utf-8")
    proc = run(["alt-text", str(page), "-o", str(site / "out.html"), "--backend", "local", "--no-progress"],
               key=None)
    assert proc.returncode == cli.EXIT_OK, proc.stderr
    out = (site / "out.html").read_text(encoding="utf-8")
    assert '<img alt="A photo of a cat.' in out and '<img src="brick.jpg">' in out
    # The colour is not what the picture shows: no "Dominant color: brown." read aloud.
    assert '<img alt="A photo of a cat." title="Cat"' in out and "olor" not in out
    assert "1 left without alt text" in proc.stderr and "brick.jpg" in proc.stderr
    # The threshold is the caller's: at 0 nothing is held back for being unsure, but an
    # image with nothing recognised still gets no empty description.
    low = run(["alt-text", str(page), "--backend", "local", "--no-progress", "--min-confidence", "0"], key=None)
    assert '<img src="brick.jpg">' in low.stdout and "brick.jpg" in low.stderr


def test_alt_text_command_writes_the_page_and_stdout(tmp_path, api):
    site = tmp_path / "web site"
    make_photo(site / "img" / "hero shot.jpg", seed=7)
    page = site / "index.html"
    html = ('<html><body>\n<h1>Hello</h1>\n<img src="img/hero%20shot.jpg" width=10>\n'
            '<img src="img/gone.png" alt="">\n<img src="img/nope.png">\n</body></html>\n')
    page.write_text(html, encoding="utf-8")
    proc = run(["alt-text", str(page), "-o", str(site / "out.html"), *FAST], api=api)
    assert proc.returncode == cli.EXIT_PARTIAL  # img/nope.png does not exist
    assert "nope.png" in proc.stderr and "1 filled" in proc.stderr
    new = (site / "out.html").read_text(encoding="utf-8")
    digest = hashlib.sha256((site / "img" / "hero shot.jpg").read_bytes()).hexdigest()
    added = f' alt="A fake description in en." title="Image {digest[:6]}"'
    assert new == html.replace('<img src="img/hero', '<img' + added + ' src="img/hero')
    assert page.read_text(encoding="utf-8") == html

    (site / "img" / "nope.png").write_bytes((site / "img" / "hero shot.jpg").read_bytes())
    to_stdout = run(["alt-text", str(page), *FAST], api=api)
    assert to_stdout.returncode == cli.EXIT_OK, to_stdout.stderr
    assert to_stdout.stdout.count(added) == 2


# --------------------------------------------------------------------------- offline wording


def test_offline_run_says_not_sure_and_speaks_of_no_credits_or_api(tmp_path):
    """An offline run: untagged images say "(not sure)" in the run's language and are counted;
    nothing mentions credits, API codes or a credit estimate."""
    samples = Path(__file__).resolve().parent.parent / "data" / "samples"
    album = tmp_path / "album"
    album.mkdir()
    for name in ("chelsea_cat.jpg", "brick.jpg", "grass.jpg"):
        (album / name).write_bytes((samples / name).read_bytes())
    (album / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a JPEG")
    proc = run(["tag", str(album), "--backend", "local", "--no-progress", "--lang", "de"], key=None)
    assert proc.returncode == cli.EXIT_PARTIAL, proc.stderr
    rows = {line.split()[0]: line for line in proc.stdout.splitlines()[1:]}
    assert rows["brick.jpg"].endswith("(nicht sicher)") and rows["grass.jpg"].endswith("(nicht sicher)")
    assert "Katze" in rows["chelsea_cat.jpg"] and "nicht sicher" not in rows["chelsea_cat.jpg"]
    assert "\x1b[" not in proc.stdout  # dimmed only on a terminal
    assert ("4 images: 3 tagged (0 from cache), 1 failed; 2 left without tags: the tagger was not sure "
            "of anything in them") in proc.stderr
    assert "  unreadable image: 1" in proc.stderr
    assert "credit" not in proc.stderr and "API" not in proc.stderr
    dry = run(["tag", str(album), "--backend", "local", "--dry-run", "--no-progress"], key=None)
    assert "calls needed:" in dry.stdout and "credit" not in dry.stdout + dry.stderr


def test_text_table_dims_not_sure_cells_and_translates_them():
    df = pd.DataFrame({"path": ["a.jpg", "b.jpg", "c.jpg"], "title": ["Cat", "", None],
                       "tags": [["cat"], [], None], "error": [None, None, "c.jpg: gone"],
                       "ok": [True, True, False]})
    table = export.text_table(df, width=60, lang="ja", dim=True)
    lines = table.splitlines()
    assert lines[1].endswith("cat") and lines[2].endswith("\x1b[2m（確信なし）\x1b[22m")
    assert "ERROR c.jpg: gone" in lines[3]
    assert set(export.NOT_SURE) == set(C.LANGUAGES)
    assert "\x1b[" not in export.text_table(df, width=60)


def test_readme_first_command_shows_everyday_photos_tagged(tmp_path):
    """The README's first command: the samples include pets, a landscape and a street, and
    the images the tagger is unsure of are said to be so, not left blank."""
    samples = Path(__file__).resolve().parent.parent / "data" / "samples"
    proc = run(["tag", str(samples), "--no-progress"], key=None)
    assert proc.returncode == cli.EXIT_OK, proc.stderr
    rows = {line.split()[0]: line for line in proc.stdout.splitlines()[1:]}
    assert {"dogs.jpg", "mountains.jpg", "street_bus.jpg"} <= set(rows)
    assert "dog" in rows["dogs.jpg"] and "pet" in rows["dogs.jpg"]
    assert "mountain" in rows["mountains.jpg"] and "landscape" in rows["mountains.jpg"]
    assert "bus" in rows["street_bus.jpg"] and "person" in rows["street_bus.jpg"]
    unsure = [name for name, line in rows.items() if line.endswith("(not sure)")]
    assert unsure and all(len(line.split()) > 1 for line in rows.values())  # no row without a word
    assert f"{len(unsure)} left without tags" in proc.stderr
    assert not (samples / "dogs.jpg.json").exists()
