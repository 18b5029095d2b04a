"""Ctrl-C with slow calls in flight: every image the server charged for ends up cached.

Real processes and real signals against a loopback server that takes 3 s per call,
so calls are in flight when the interrupt arrives: while images are still being sent
(paced) and once every call has been sent (the engine only waits for answers).
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import API_KEY, default_sigint, make_photo

from imagetags_df.testing import FakeImageDescriber

REPO = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent("""
    import sys
    import pandas as pd
    import imagetags_df
    url, cache, rate, concurrency, *paths = sys.argv[1:]
    imagetags_df.generate(pd.DataFrame({"path": paths}), backend="imagedescriber", api_key=%r,
                          base_url=url, cache_dir=cache, rate_limit=rate, progress=False,
                          max_concurrency=int(concurrency))
""") % API_KEY


def _wait_for(cond, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _charged_and_cached(api, paths, cache) -> tuple[int, int]:
    """Once the server has answered everything: calls it charged for, rows a re-run finds cached."""
    _wait_for(lambda: api.in_flight() == 0)
    charged = api.count("ok")
    out = pd.DataFrame({"path": paths}).imagetags.generate(
        backend="imagedescriber", api_key=API_KEY, base_url=api.url, cache_dir=cache,
        rate_limit="6000/min", progress=False, max_concurrency=16)
    assert out.ok.all()
    sent = [c.digest for c in api.calls if c.outcome == "ok"]
    assert len(sent) == len(set(sent)) == len(paths), "an image was paid for twice"
    return charged, int(out.cached.sum())


@pytest.mark.slow
@pytest.mark.parametrize("phase", ["sending", "all-sent"])
def test_ctrl_c_caches_every_charged_call(tmp_path, phase):
    paths = [str(make_photo(tmp_path / f"p{i}.jpg", size=(64, 48), seed=i)) for i in range(16)]
    cache = tmp_path / "c"
    # "sending": 2/s, so Ctrl-C lands while images are still being paced out;
    # "all-sent": every call is out at once and the engine only waits for answers.
    rate, concurrency = ("120/min", "16") if phase == "sending" else ("6000/min", "16")
    with FakeImageDescriber(keys={API_KEY}, latency=3.0) as api:
        proc = subprocess.Popen([sys.executable, "-c", SCRIPT, api.url, str(cache), rate, concurrency, *paths],
                                stderr=subprocess.PIPE, text=True, cwd=REPO,
                                preexec_fn=default_sigint)
        if phase == "sending":
            _wait_for(lambda: api.count("ok") >= 1 and api.in_flight() >= 2)
        else:
            _wait_for(lambda: api.in_flight() == 16)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode != 0
        last = err.strip().splitlines()[-1]
        assert last.startswith("imagetags_df._exceptions.RunInterrupted: ") and \
            last.endswith(" done and cached; run again to finish"), err[-2000:]
        charged, cached = _charged_and_cached(api, paths, cache)
        assert 0 < charged and (charged < 16 or phase == "all-sent")
        assert cached == charged, f"{charged} calls were paid for, only {cached} were cached"
        done = int(last.split(": ")[1].split("/")[0])
        assert done == charged


def _kernel_env(cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("IMAGEDESCRIBER_API_KEY", "MPLBACKEND")}
    env["IMAGETAGS_CACHE_DIR"] = str(cache)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


@pytest.mark.slow
def test_jupyter_interrupt_prints_one_line(tmp_path):
    from jupyter_client.manager import start_new_kernel

    paths = [str(make_photo(tmp_path / f"p{i}.jpg", size=(64, 48), seed=i)) for i in range(16)]
    cache = tmp_path / "c"
    with FakeImageDescriber(keys={API_KEY}, latency=3.0) as api:
        km, kc = start_new_kernel(kernel_name="python3", env=_kernel_env(cache), cwd=str(tmp_path))
        try:
            code = (f"import pandas as pd, imagetags_df\n"
                    f"out = pd.DataFrame({{'path': {paths!r}}}).imagetags.generate(backend='imagedescriber', "
                    f"api_key={API_KEY!r}, base_url={api.url!r}, cache_dir={str(cache)!r}, "
                    f"rate_limit='120/min', progress=False, max_concurrency=16)\n")
            msg_id = kc.execute(code)
            _wait_for(lambda: api.count("ok") >= 1 and api.in_flight() >= 2)
            km.interrupt_kernel()
            errors, streams = [], []
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    msg = kc.get_iopub_msg(timeout=1)
                except queue.Empty:
                    continue
                if msg["parent_header"].get("msg_id") != msg_id:
                    continue
                if msg["msg_type"] == "error":
                    errors.append(msg["content"])
                elif msg["msg_type"] == "stream":
                    streams.append(msg["content"]["text"])
                elif msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                    break
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)
        assert len(errors) == 1, errors
        tb = errors[0]["traceback"]
        assert len(tb) == 1 and tb[0].endswith("/16 done and cached; run again to finish"), tb
        assert "Traceback" not in "".join(streams)
        charged, cached = _charged_and_cached(api, paths, cache)
        assert cached == charged and tb[0].startswith(f"{charged}/16 ")


def test_a_child_the_tests_interrupt_gets_sigint_back_when_the_runner_ignores_it():
    """``nohup pytest &`` starts the suite with SIGINT ignored; the children the tests
    Ctrl-C must still raise KeyboardInterrupt, or those tests would pass for nothing or fail."""
    probe = "import signal, sys; sys.stdout.write(str(signal.getsignal(signal.SIGINT) is signal.default_int_handler))"
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        inherited = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
        reset = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60,
                               preexec_fn=default_sigint)
    finally:
        signal.signal(signal.SIGINT, before)
    assert inherited.stdout == "False", "the probe cannot tell an ignored SIGINT from the default"
    assert reset.stdout == "True"
