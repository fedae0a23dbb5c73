"""The crawl's store writer process over its socket: items committed and answered in order, and an
end of the crawl's stream (a finished crawl, or a crawl process that died) ends the writer."""

from __future__ import annotations

import multiprocessing
import pickle
import socket
from multiprocessing.process import BaseProcess
from pathlib import Path

import pytest
from lootwatch.crawlers.extract.result import ITEM, PageResult
from lootwatch.crawlers.framing import FrameReader, send, socket_pair
from lootwatch.crawlers.items import ListingItem
from lootwatch.crawlers.pipelines import READY, write_process
from lootwatch.crawlers.run import make_store

from lootwatch.core.db import Database
from lootwatch.core.settings import Settings

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def _writer(db: Database, redis_url: str, tmp_path: Path) -> tuple[socket.socket, FrameReader, BaseProcess]:
    settings = Settings(data_dir=tmp_path / "data")
    store = make_store(settings, db.url, redis_url)
    source_id = store.source_id("site")
    store.close()
    ours, theirs = socket_pair()
    proc = multiprocessing.get_context("spawn").Process(
        target=write_process, args=((settings, db.url, redis_url), source_id, theirs), daemon=True
    )
    proc.start()
    theirs.close()
    answers = FrameReader(ours)
    assert pickle.loads(answers.next(60) or b"") == READY
    return ours, answers, proc


def _listing(item_id: str) -> ListingItem:
    page = PageResult(url=f"https://auction.example/lot/{item_id}", page_type=ITEM, item_id=item_id, title="Lot")
    body = f"<html><h1>Lot {item_id}</h1></html>".encode()
    return ListingItem(page=page, body=body, http_status=200, changed=True)


def test_the_writer_commits_what_it_is_sent_and_ends_with_the_stream(
    db: Database, redis_url: str, tmp_path: Path
) -> None:
    ours, answers, proc = _writer(db, redis_url, tmp_path)
    for i in range(5):
        send(ours, pickle.dumps(_listing(str(i))))
    ours.shutdown(socket.SHUT_WR)  # the crawl finished: the writer commits the rest, answers and exits
    committed = 0
    while (frame := answers.next(60)) is not None:
        n, counts = pickle.loads(frame)
        committed += n
        assert counts.get("errors", 0) == 0
    proc.join(30)
    assert committed == 5 and proc.exitcode == 0
    assert db.fetchone("SELECT count(*) AS n FROM page_snapshots")["n"] == 5  # type: ignore[index]


def test_a_crawl_process_that_dies_ends_its_writer(db: Database, redis_url: str, tmp_path: Path) -> None:
    ours, _, proc = _writer(db, redis_url, tmp_path)
    ours.close()  # what the kernel does to a killed crawl process's socket
    proc.join(30)
    assert proc.exitcode == 0
