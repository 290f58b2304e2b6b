"""The HTTP layer on its own: redirects, size cap, rate limit, Retry-After, atomic downloads."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest
from PIL import Image

from imagedataextractor.harvest.base import verify_image
from imagedataextractor.harvest.http import FetchError, RateLimiter, ServiceClient, download_file, parse_retry_after, write_atomic
from imagedataextractor.harvest.replay import Fault, ReplayServer


@pytest.fixture
def client(make_config):
    client = ServiceClient("elsevier", config=make_config(), user_agent="ide-test", credentials={"X-ELS-APIKey": "k-123456"}, secrets=["k-123456"])
    yield client
    client.close()


def _keyed_client(make_config, origin: str) -> ServiceClient:
    return ServiceClient("elsevier", config=make_config(), user_agent="ide-test", credentials={"X-ELS-APIKey": "k-123456"},
                         credentials_origin=origin, secrets=["k-123456"])


def test_redirect_to_another_host_drops_the_credentials(make_config):
    with ReplayServer() as home, ReplayServer() as other:
        other.add_route("/cdn/fig.jpg", b"GIF89a", "image/gif")
        home.add_route("/obj/fig.jpg", b"", "text/plain", status=302, headers={"Location": f"{other.url}/cdn/fig.jpg"})
        client = _keyed_client(make_config, home.url)
        try:
            fetched = client.request(f"{home.url}/obj/fig.jpg", accept_types=["image/*"], max_bytes=100)
        finally:
            client.close()
        assert fetched.body == b"GIF89a"
        assert home.seen[0].headers["X-ELS-APIKey"] == "k-123456"
        assert "X-ELS-APIKey" not in other.seen[0].headers
        assert other.seen[0].headers["User-Agent"] == "ide-test"


def test_credentials_go_only_to_the_configured_origin(make_config):
    """A URL naming another port (or host) of the same machine is fetched without the key, also when
    it is the first URL asked for; secret query parameters are dropped there too."""
    with ReplayServer() as home, ReplayServer() as other:
        other.add_route("/obj/fig.gif", b"GIF89a", "image/gif")
        client = _keyed_client(make_config, home.url + "/elsevier")
        try:
            client.request(f"{other.url}/obj/fig.gif", params={"api_key": "k-123456"}, accept_types=["image/*"], max_bytes=100)
            client.request(f"{other.url.replace('127.0.0.1', 'localhost')}/obj/fig.gif", accept_types=["image/*"], max_bytes=100)
        finally:
            client.close()
        assert len(other.seen) == 2
        for seen in other.seen:
            assert "X-ELS-APIKey" not in seen.headers and "api_key" not in seen.query


def test_elsevier_object_url_on_a_foreign_port_gets_no_key(make_config, tmp_path):
    from imagedataextractor.document.types import EMDecision, Figure
    from imagedataextractor.harvest.base import SourceRecord
    from imagedataextractor.harvest.config import Endpoints, Secret, Settings
    from imagedataextractor.harvest.elsevier import ElsevierSource

    image = tmp_path / "fig.png"
    Image.new("RGB", (64, 64), "teal").save(image)
    with ReplayServer() as home, ReplayServer() as foreign:
        foreign.add_route("/content/object/eid/1-s2.0-x-gr1.png", image.read_bytes(), "image/png")
        settings = Settings(endpoints=Endpoints(elsevier=home.url), elsevier_api_key=Secret("k-123456"))
        source = ElsevierSource(settings, make_config())
        figure = Figure("Fig. 1", "TEM image.", "gr1", f"{foreign.url}/content/object/eid/1-s2.0-x-gr1.png", EMDecision(True))
        try:
            source.fetch_figure(SourceRecord("elsevier", "10.1016/x", f"{home.url}/content/article/doi/10.1016/x"), figure, tmp_path / "out")
        finally:
            source.client.close()
        assert len(foreign.seen) == 1 and "X-ELS-APIKey" not in foreign.seen[0].headers


def test_size_cap_stops_a_download(client):
    with ReplayServer() as server:
        server.add_route("/big", b"x" * 5000, "application/xml")
        with pytest.raises(FetchError, match="5000 bytes, more than the 1000 allowed") as info:
            client.request(f"{server.url}/big", accept_types=["application/xml"], max_bytes=1000)
        assert info.value.permanent


def test_failed_download_leaves_no_file(client, tmp_path):
    with ReplayServer() as server:
        server.add_route("/fig.jpg", b"\xff\xd8\xff\xe0 not really a jpeg", "image/jpeg")
        with pytest.raises(FetchError, match="not a usable image"):
            download_file(client, f"{server.url}/fig.jpg", tmp_path, "gr1", accept_types=["image/*"], max_bytes=10_000, finish=verify_image)
    assert list(tmp_path.iterdir()) == []


def test_dropped_download_is_restarted_from_scratch(client, tmp_path):
    image_path = tmp_path / "src.png"
    Image.new("RGB", (64, 64), "teal").save(image_path)
    with ReplayServer() as server:
        server.add_route("/fig.png", image_path.read_bytes(), "image/png")
        server.add_fault("/fig.png", Fault("drop", times=2))
        saved = download_file(client, f"{server.url}/fig.png", tmp_path / "out", "gr1", accept_types=["image/*"], max_bytes=10**6, finish=verify_image)
    assert saved.path == tmp_path / "out" / "gr1.png" and saved.path.read_bytes() == image_path.read_bytes()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["gr1.png"]


def test_client_errors_are_permanent_and_not_retried(client):
    with ReplayServer() as server:
        with pytest.raises(FetchError, match=r"HTTP 404 \(not found\)") as info:
            client.request(f"{server.url}/missing?apiKey=k-123456", accept_types=["text/xml"], max_bytes=100)
        assert info.value.permanent and info.value.status == 404 and len(server.seen) == 1
        assert "k-123456" not in str(info.value)  # the key in the URL is redacted from the message


def test_rate_limiter_spaces_requests_across_threads():
    from concurrent.futures import ThreadPoolExecutor

    limiter = RateLimiter(20.0)
    started = time.monotonic()
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: limiter.wait(), range(9)))
    assert time.monotonic() - started >= 8 / 20 - 0.01


def test_parse_retry_after():
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    later = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=30), usegmt=True)
    assert 25 <= parse_retry_after(later) <= 31
    assert parse_retry_after(format_datetime(datetime(2000, 1, 1, tzinfo=timezone.utc), usegmt=True)) == 0.0


def test_write_atomic_replaces_whole_files(tmp_path):
    target = tmp_path / "sub" / "provenance.json"
    write_atomic(target, b"one")
    write_atomic(target, b"two")
    assert target.read_bytes() == b"two" and [p.name for p in target.parent.iterdir()] == ["provenance.json"]


@pytest.mark.timeout(30)
def test_trickling_server_is_cut_off_at_the_download_time_limit(make_config):
    """One byte every 20 ms for 2000 bytes would take 40 s; the 1 s limit holds during reads,
    not only between 64 KiB chunks."""
    client = ServiceClient("elsevier", config=make_config(download_timeout_s=1.0, max_attempts=1), user_agent="ide-test")
    try:
        with ReplayServer() as server:
            server.add_route("/slow.xml", b"x" * 2000, "application/xml")
            server.add_fault("/slow.xml", Fault("trickle", delay_s=0.02))
            with pytest.raises(FetchError, match="download took longer than 1 s"):
                client.request(f"{server.url}/slow.xml", accept_types=["application/xml"], max_bytes=10_000)
    finally:
        client.close()


def test_figure_variants_are_tried_until_one_decodes_and_none_bad_is_kept(client, tmp_path):
    from imagedataextractor.document.types import EMDecision, Figure
    from imagedataextractor.harvest.base import download_figure

    good = tmp_path / "std.png"
    Image.new("RGB", (64, 64), "teal").save(good)
    jpeg = tmp_path / "big.jpg"
    Image.effect_noise((256, 256), 40).convert("RGB").save(jpeg)
    truncated = jpeg.read_bytes()[: jpeg.stat().st_size // 2]
    figure = Figure("Fig. 1", "SEM image.", "gr1", None, EMDecision(True))
    out = tmp_path / "figures"
    with ReplayServer() as server:
        server.add_route("/gr1_lrg.jpg", truncated, "image/jpeg")  # Content-Length matches the truncated body
        server.add_route("/gr1_html.jpg", b"<!DOCTYPE html><html>Sign in</html>", "image/jpeg")
        server.add_route("/gr1.png", good.read_bytes(), "image/png")
        urls = [f"{server.url}/gr1_lrg.jpg", f"{server.url}/gr1_html.jpg", f"{server.url}/gr1.png"]
        saved = download_figure(client, urls, figure, out)
        assert saved.url == urls[2] and saved.path == out / "gr1.png"
        saved.path.unlink()
        with pytest.raises(FetchError) as info:
            download_figure(client, urls[:2], figure, out)
    message = str(info.value)
    assert message.startswith("figure gr1: ") and "truncated" in message and "gr1_html.jpg" in message and "not a usable image" in message
    assert not info.value.permanent  # a later run tries again
    assert list(out.iterdir()) == []  # nothing that does not decode is ever kept
