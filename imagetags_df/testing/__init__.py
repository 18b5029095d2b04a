"""Fakes for tests and benchmarks: real HTTP servers on 127.0.0.1 that speak the real wire formats.

- :class:`FakeImageDescriber` answers the ImageDescriber API (``imagedescriber.py``);
- :class:`FakeVisionModel` answers like an OpenAI-compatible vision-language model (``openai.py``);
- :class:`LoopbackServer` is the base both stand on (``loopback.py``).
"""

from .imagedescriber import FakeImageDescriber
from .loopback import LoopbackServer, ScriptedHTTPServer
from .openai import FakeVisionModel, request_problems

__all__ = ["FakeImageDescriber", "FakeVisionModel", "LoopbackServer", "ScriptedHTTPServer", "request_problems"]
