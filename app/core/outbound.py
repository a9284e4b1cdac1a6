"""The one HTTP client a process uses for its calls to partners and suppliers (webhooks, points
services, recharge platforms, key sets): its connections are kept alive between calls. A
client built per call (`httpx.post`) builds its TLS context and opens a connection each time,
which costs more CPU than most of the answers take to arrive. Redirects are never followed:
where a call may go is checked before it is made. Timeouts are given per call."""

from __future__ import annotations

import functools

import httpx


@functools.cache
def client() -> httpx.Client:
    return httpx.Client(follow_redirects=False)
