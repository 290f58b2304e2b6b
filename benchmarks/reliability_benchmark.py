"""Reliability figures: how long hostile inputs take, how much memory a large image needs, how long a
trickling server can hold a download, and whether a key shows with -vv.

    python benchmarks/reliability_benchmark.py [--json]

Rows: caption analysis of a 160 KB caption dense with technique names and of an 11 MB caption split
by inline tags (parse + analysis); the peak resident memory of ``read_image`` on 9400x9400 16-bit
TIFFs over the size of the decoded 8-bit image (a fresh process, so Pillow's buffers count), beside
that of Pillow's decoding alone; a
download from a server sending one byte every 0.25 s against a 3 s limit; and the number of key
occurrences in everything ``ide -vv harvest`` of the demo printed and wrote.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from imagedataextractor.document import analyse_caption, parse_article_bytes
from imagedataextractor.harvest import FetchError, HarvestConfig
from imagedataextractor.harvest.http import ServiceClient
from imagedataextractor.harvest.replay import Fault, ReplayServer

REPO = Path(__file__).resolve().parents[1]
PEAK = """
import sys
from imagedataextractor.imageio import read_image
def high_water_bytes():  # this process's own peak (VmHWM; ru_maxrss would carry the parent's over exec)
    status = open("/proc/self/status").read()
    return int(status.split("VmHWM:")[1].split()[0]) * 1024
before = high_water_bytes()
read_image(sys.argv[1])
print(high_water_bytes() - before)
"""
DECODE_ONLY = PEAK.replace("from imagedataextractor.imageio import read_image", "from PIL import Image").replace(
    "read_image(sys.argv[1])", "Image.open(sys.argv[1]).load()")
KEYS = {"IDE_ELSEVIER_API_KEY": "els-bench-3c9d2f70e1", "IDE_ELSEVIER_INSTTOKEN": "tok-bench-8a51be7d44", "IDE_SPRINGER_API_KEY": "spr-bench-6e0f93ab25"}


def timed(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def caption_seconds() -> dict[str, float]:
    dense = "HR-TEM TEM SEM STEM " * 8000
    unit = b"<italic>TEM</italic> of Fe<sub>3</sub>O<sub>4</sub> "
    article = (b'<?xml version="1.0"?><article><front><article-meta><article-id pub-id-type="doi">10.5555/x.1</article-id>'
               b'</article-meta></front><body><fig id="F1"><caption><p>' + unit * (11_000_000 // len(unit)) + b"</p></caption></fig></body></article>")
    return {
        "caption_160kb_s": timed(lambda: analyse_caption(dense, chem_ner="builtin")),
        "caption_11mb_tagged_s": timed(lambda: parse_article_bytes(article, chem_ner="builtin")),
    }


def _tiffs(work: Path, side: int = 9400) -> dict[str, Path]:
    """16-bit test images: a ramp with a +-2000 checkerboard (incompressible), uncompressed and
    deflated, and a micrograph-like one (flat background, discs) deflated to well under a MB."""
    ramp = np.linspace(3000, 60000, side)
    checker = np.where(np.arange(side) % 2, 2000, -2000)
    image = np.empty((side, side), np.uint16)
    image[0::2], image[1::2] = ramp + checker, ramp - checker
    paths = {"checker, raw": work / "checker-raw.tif", "checker, deflate": work / "checker-deflate.tif", "discs, deflate": work / "discs.tif"}
    Image.fromarray(image).save(paths["checker, raw"])
    Image.fromarray(image).save(paths["checker, deflate"], compression="tiff_deflate")
    cells = side // 47
    yy, xx = np.mgrid[0:cells, 0:cells]
    coarse = np.full((cells, cells), 4000, np.uint16)
    rng = np.random.default_rng(1)
    for cy, cx, r in rng.integers(0, cells, (300, 3)):
        coarse[(yy - cy) ** 2 + (xx - cx) ** 2 < (r % 8 + 2) ** 2] = 50000
    Image.fromarray(np.kron(coarse, np.ones((47, 47), np.uint16))).save(paths["discs, deflate"], compression="tiff_deflate")
    return paths


def image_peak_ratios(work: Path, side: int = 9400) -> dict[str, float]:
    """Peak memory of read_image, and of Pillow's decoding alone, over the decoded 8-bit image."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    results = {}
    for name, path in _tiffs(work, side).items():
        for what, script in (("read_image", PEAK), ("Pillow decode only", DECODE_ONLY)):
            peak = int(subprocess.run([sys.executable, "-c", script, str(path)], env=env, capture_output=True, text=True, check=True).stdout)
            results[f"tiff {side}x{side} 16-bit ({name}, {path.stat().st_size / 1e6:.1f} MB): {what}, peak / 8-bit"] = peak / (side * side)
    return results


def trickle_seconds(limit_s: float = 3.0) -> float:
    config = HarvestConfig(download_timeout_s=limit_s, read_timeout_s=2.0, max_attempts=1)
    client = ServiceClient("elsevier", config=config, user_agent="ide-bench")
    try:
        with ReplayServer() as server:
            server.add_route("/slow.jpg", b"x" * 400, "image/jpeg")  # 100 s at one byte per 0.25 s
            server.add_fault("/slow.jpg", Fault("trickle", delay_s=0.25))
            started = time.perf_counter()
            try:
                client.request(f"{server.url}/slow.jpg", accept_types=["image/*"], max_bytes=10_000)
            except FetchError:
                pass
            return time.perf_counter() - started
    finally:
        client.close()


def key_occurrences(work: Path) -> dict[str, int]:
    doi_list = REPO / "corpus" / "demo" / "dois.txt"
    with ReplayServer(REPO / "corpus" / "demo") as server:
        server.add_fault("/springer/openaccess/jats", Fault("status", times=1, status=503))
        env = {**os.environ, **server.env(), **KEYS, "IDE_CONFIG": str(work / "none.toml"), "PYTHONPATH": str(REPO)}
        run = subprocess.run([sys.executable, "-m", "imagedataextractor", "-vv", "harvest", "--doi-list", str(doi_list),
                              "--corpus", str(work / "corpus")], env=env, capture_output=True, timeout=600)
    blobs = [run.stdout, run.stderr] + [p.read_bytes() for p in (work / "corpus").rglob("*") if p.is_file()]
    return {"files_and_streams_searched": len(blobs), "log_lines": run.stderr.count(b"\n"),
            "key_occurrences": sum(blob.count(key.encode()) for blob in blobs for key in KEYS.values())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        results = {**caption_seconds(), **image_peak_ratios(work),
                   "trickle_cut_off_s (limit 3 s)": trickle_seconds(), **key_occurrences(work)}
    if args.json:
        print(json.dumps(results))
    else:
        for name, value in results.items():
            print(f"{name:78s} {value:.2f}" if isinstance(value, float) else f"{name:78s} {value}")


if __name__ == "__main__":
    main()
