"""The portal domain's pages on the three terminals; the data comes from /api/v1/portal."""

from __future__ import annotations

from fastapi import FastAPI

from xueliang.web.pages import Render


def mount(app: FastAPI, render: Render) -> None:
    del app, render
