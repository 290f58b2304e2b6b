"""Settings from environment and config file, DOI lists, publisher routing."""

from __future__ import annotations

import pytest

from imagedataextractor.errors import HarvestError
from imagedataextractor.harvest import Secret, doi_from_dotted, load_settings, read_doi_list
from imagedataextractor.harvest.route import publisher_from_crossref, publisher_from_prefix

TOML = """
contact_email = "lab@example.org"
[elsevier]
api_key = "file-els-key"
api_url = "https://mirror.example.org/elsevier/"
[springer]
api_key = "file-spr-key"
"""


def test_environment_wins_over_config_file_and_is_read_at_call_time(tmp_path, monkeypatch):
    config = tmp_path / "ide.toml"
    config.write_text(TOML)
    for name in ("IDE_ELSEVIER_API_KEY", "IDE_SPRINGER_API_KEY", "IDE_ELSEVIER_API_URL", "IDE_CROSSREF_API_URL", "IDE_ELSEVIER_INSTTOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("IDE_CONFIG", str(config))
    settings = load_settings()
    assert settings.elsevier_api_key.reveal() == "file-els-key" and settings.springer_api_key.reveal() == "file-spr-key"
    assert settings.endpoints.elsevier == "https://mirror.example.org/elsevier"  # trailing "/" dropped
    assert settings.endpoints.crossref == "https://api.crossref.org" and settings.contact_email == "lab@example.org"
    assert settings.config_file == config and settings.elsevier_insttoken is None
    monkeypatch.setenv("IDE_ELSEVIER_API_KEY", "env-els-key")
    monkeypatch.setenv("IDE_CROSSREF_API_URL", "http://127.0.0.1:9/crossref")
    settings = load_settings()
    assert settings.elsevier_api_key.reveal() == "env-els-key" and settings.endpoints.crossref == "http://127.0.0.1:9/crossref"
    assert "env-els-key" not in repr(settings) and "file-spr-key" not in repr(settings)
    assert str(Secret("x-secret")) == "Secret('***')"


def test_config_file_errors(tmp_path, monkeypatch):
    with pytest.raises(HarvestError, match="config file not found"):
        load_settings(config_file=tmp_path / "absent.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[elsevier\napi_key = 1")
    with pytest.raises(HarvestError, match="cannot read config file"):
        load_settings(config_file=bad)
    wrong_type = tmp_path / "wrong.toml"
    wrong_type.write_text("[elsevier]\napi_key = 12345\n")
    monkeypatch.delenv("IDE_ELSEVIER_API_KEY", raising=False)
    with pytest.raises(HarvestError, match=r"\[elsevier\] api_key must be a string"):
        load_settings(config_file=wrong_type)


def test_read_doi_list_skips_comments_and_blanks(tmp_path):
    path = tmp_path / "dois.txt"
    path.write_text("# header\n\n10.1016/j.a.2020.1\n  doi:10.1039/C9NR09999A  \n# 10.1/x\n")
    assert read_doi_list(path) == ["10.1016/j.a.2020.1", "doi:10.1039/C9NR09999A"]
    with pytest.raises(HarvestError, match="cannot read DOI list"):
        read_doi_list(tmp_path / "none.txt")


def test_emps_dotted_dois():
    assert doi_from_dotted("10.1016.j.chemosphere.2019.06.008") == "10.1016/j.chemosphere.2019.06.008"
    assert doi_from_dotted("10.1016.S0008-6223.99.00150-8") == "10.1016/s0008-6223.99.00150-8"
    with pytest.raises(HarvestError, match="not a dotted DOI"):
        doi_from_dotted("j.chemosphere.2019")


@pytest.mark.emps
def test_emps_doi_list_matches_the_metadata(emps_dir, demo_dir):
    import csv

    csv.field_size_limit(1 << 30)
    with (emps_dir / "metadata.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    expected = sorted({doi_from_dotted(r["doi"]) for r in rows})
    listed = read_doi_list(demo_dir.parent / "emps_dois.txt")
    assert len(rows) == 465 and listed == expected and len(listed) == 322
    assert all(d.startswith("10.1016/j.") and "." not in d.split("/")[0][3:] for d in listed)


def test_routing_by_prefix_and_crossref():
    assert publisher_from_prefix("10.1016/j.x") == "elsevier"
    assert publisher_from_prefix("10.1038/s41598-020-1") == "springer" and publisher_from_prefix("10.1186/x") == "springer"
    assert publisher_from_prefix("10.5555/x") is None
    assert publisher_from_crossref({"member": "297", "publisher": "Springer Science and Business Media LLC"}) == "springer"
    assert publisher_from_crossref({"member": "99999", "publisher": "Elsevier BV"}) == "elsevier"
    assert publisher_from_crossref({"member": "99999", "publisher": "BioMed Central Ltd"}) == "springer"
    assert publisher_from_crossref({"member": "8215", "publisher": "Wiley-VCH"}) is None


def test_redaction_covers_values_parameters_headers_and_every_logger(caplog):
    import logging

    from imagedataextractor.harvest import Secret
    from imagedataextractor.redact import redact

    Secret("zq-9f8e7d6c5b")
    assert redact("GET /x?q=1&api_key=zq-9f8e7d6c5b&b=2") == "GET /x?q=1&api_key=***&b=2"
    assert redact("api_key=demo and apiKey=short") == "api_key=*** and apiKey=***"  # short values hidden where they stand
    assert redact("{'X-ELS-APIKey': 'whatever', 'Accept': 'text/xml'}") == "{'X-ELS-APIKey': '***', 'Accept': 'text/xml'}"
    assert redact("corpus/demo stays") == "corpus/demo stays"
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("urllib3.connectionpool").debug('%s://%s "GET %s"', "http", "h:1", "/s?api_key=zq-9f8e7d6c5b")
        try:
            raise ValueError("token zq-9f8e7d6c5b inside")
        except ValueError:
            logging.getLogger("some.library").exception("failed with %s", "zq-9f8e7d6c5b")
    assert len(caplog.records) == 2 and "zq-9f8e7d6c5b" not in caplog.text and "api_key=***" in caplog.text


def test_an_unexpected_error_prints_its_traceback_without_the_key(monkeypatch, tmp_path):
    import imagedataextractor.harvest as harvest_module
    from click.testing import CliRunner

    from imagedataextractor.cli import main

    monkeypatch.setenv("IDE_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("IDE_ELSEVIER_API_KEY", "els-unexpected-41d2")

    def broken(*args, **kwargs):
        raise RuntimeError("GET https://api.elsevier.com/x?apiKey=els-unexpected-41d2 failed")

    monkeypatch.setattr(harvest_module, "harvest", broken)
    result = CliRunner().invoke(main, ["harvest", "10.1016/j.x.1", "--corpus", str(tmp_path / "c")])
    assert result.exit_code == 1
    assert "Traceback" in result.output and "RuntimeError" in result.output and "apiKey=***" in result.output
    assert "els-unexpected-41d2" not in result.output
