"""What the article pipeline says about a local article whose figure file is missing."""

from __future__ import annotations

import json

from click.testing import CliRunner

from imagedataextractor.cli import main

JATS = """<?xml version="1.0"?><article xmlns:xlink="http://www.w3.org/1999/xlink"><front><article-meta>
<article-id pub-id-type="doi">10.5555/local.missing</article-id></article-meta></front>
<body><fig id="F1"><label>Figure 1</label><caption><p>TEM image of Au nanoparticles.</p></caption><graphic xlink:href="images/gone.png"/></fig>
</body></article>"""


def test_missing_image_file_of_a_local_article_is_named(tmp_path):
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "one.xml").write_text(JATS)
    result = CliRunner().invoke(main, ["extract", str(folder / "one.xml"), "--out", str(tmp_path / "out"), "--method", "watershed", "--json"])
    figure = json.loads(result.output)["figure_outcomes"][0]
    assert figure["status"] == "failed"
    assert "not harvested" not in figure["reason"]
    assert "images/gone.png" in figure["reason"] and "not found" in figure["reason"], figure["reason"]
