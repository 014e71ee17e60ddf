#!/usr/bin/env python3
"""A stand-in upstream resolver for the demo, so it needs no internet.

Usage: demo-upstream.py PORT   (serves until killed; 127.0.0.1 only)
Every name under .test answers 198.18.0.20, except names under rebind.test,
which answer 10.0.0.5 (a DNS-rebinding attempt the gateway must refuse).
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "gateway"))
from stub_resolver import StubResolver  # noqa: E402

stub = StubResolver(port=int(sys.argv[1]))
stub.wait()
