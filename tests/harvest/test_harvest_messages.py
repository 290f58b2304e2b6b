"""What a harvest says about articles it could not complete: metadata only (not entitled) is not
"no figures"."""

from __future__ import annotations

from imagedataextractor.harvest import harvest
from imagedataextractor.harvest.replay import ReplayServer

METADATA_ONLY = "10.1016/j.fault.2020.metadataonly"
# What the Article Retrieval API answers for view=FULL without entitlement: coredata and the objects
# list, no originalText; the objects themselves answer 403.
METADATA_ONLY_XML = b"""<?xml version="1.0"?><full-text-retrieval-response xmlns="http://www.elsevier.com/xml/svapi/article/dtd"
 xmlns:prism="http://prismstandard.org/namespaces/basic/2.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
<coredata><prism:doi>10.1016/j.fault.2020.metadataonly</prism:doi><dc:title>Silver nanocubes</dc:title><eid>1-s2.0-S0000000000000001</eid></coredata>
<objects><object ref="gr1" type="IMAGE-HIGH-RES" mimetype="image/jpeg">https://api.elsevier.com/content/object/eid/1-s2.0-S0000000000000001-gr1_lrg.jpg</object></objects>
</full-text-retrieval-response>"""


def test_metadata_only_answer_is_reported_as_not_entitled(monkeypatch, point_at, make_config, tmp_path):
    with ReplayServer() as server:
        point_at(monkeypatch, server)
        server.add_route(f"/elsevier/content/article/doi/{METADATA_ONLY}", METADATA_ONLY_XML, "text/xml", query={"view": "FULL"})
        server.add_route("/elsevier/content/object/eid/1-s2.0-S0000000000000001-gr1_lrg.jpg", b"", "text/plain", status=403)
        server.add_route("/europepmc/search", b'{"hitCount": 0, "resultList": {"result": []}}', "application/json")
        summary = harvest([METADATA_ONLY], corpus_dir=tmp_path, publisher="elsevier", config=make_config())
    outcome = summary.outcomes[0]
    assert outcome.status == "failed"
    assert "metadata only" in outcome.reason and "not entitled" in outcome.reason and "no figures" not in outcome.reason
