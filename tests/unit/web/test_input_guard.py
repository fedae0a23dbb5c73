"""The input guard in front of the app: NUL bytes and oversized forms never reach a route."""

from __future__ import annotations

from fastapi import FastAPI, Form
from fastapi.testclient import TestClient

from lootwatch.web.input_guard import MAX_FORM_BYTES, InputGuard


def _app() -> TestClient:
    app = FastAPI()

    @app.get("/echo")
    def echo_get(q: str = "") -> dict:
        return {"q": q}

    @app.post("/echo")
    def echo_post(q: str = Form("")) -> dict:
        return {"q": q}

    app.add_middleware(InputGuard)
    return TestClient(app)


def test_clean_requests_pass_untouched() -> None:
    client = _app()
    assert client.get("/echo", params={"q": "bronze % 100"}).json() == {"q": "bronze % 100"}
    assert client.post("/echo", data={"q": "a" * 1000 + "%00 as text"}).json() == {"q": "a" * 1000 + "%00 as text"}


def test_nul_bytes_and_huge_forms_are_refused_with_a_message() -> None:
    client = _app()
    for r in (client.get("/echo?q=a%00b"), client.post("/echo", data={"q": "a\x00b"}), client.get("/echo%00")):
        assert r.status_code == 400 and "NUL character" in r.text
    big = client.post("/echo", data={"q": "x" * (MAX_FORM_BYTES + 1)})
    assert big.status_code == 413 and "larger than 64 KiB" in big.text
