"""Build the offline corpus files from the EMPS set: ``corpus/emps_dois.txt`` (the unique DOIs of
the 465 EMPS images) and ``corpus/demo/`` (recorded publisher responses for the replay server).

    python corpus/build_demo.py [--emps ../shared/emps]

Deterministic: rerunning gives the same files. See corpus/demo/README.md for what is real and
what is written for the demo.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import shutil
from pathlib import Path
from xml.sax.saxutils import escape

from PIL import Image, ImageDraw

from imagedataextractor.harvest.dois import doi_from_dotted

HERE = Path(__file__).parent
DEMO = HERE / "demo"
NOTE = "Demo record written for imagedataextractor's offline tests: the structure follows the publisher's format; title, captions and identifiers other than the DOI are not the publisher's."

# (DOI, journal, figures: (locator, label, caption with inline markup, EMPS image stem or "plot:<kind>"))
ELSEVIER = [
    ("10.1016/j.apsusc.2020.145360", "Applied Surface Science", [
        ("gr4", "Fig. 4", "XRD patterns of the as-prepared and calcined samples.", "plot:xrd"),
        ("gr6", "Fig. 6", "SEM images of the SiO<ce:inf loc=\"post\">2</ce:inf> microspheres after surface modification.", "207bb15702"),
    ]),
    ("10.1016/j.ceramint.2019.10.198", "Ceramics International", [
        ("gr1", "Fig. 1", "TEM images of mesoporous silica nanoparticles loaded with CeO<ce:inf loc=\"post\">2</ce:inf> (a) and after washing (b).", "0384c4e782"),
        ("gr2", "Fig. 2", "N<ce:inf loc=\"post\">2</ce:inf> adsorption\u2013desorption isotherms and pore size distribution (inset).", "plot:isotherm"),
        ("gr5", "Fig. 5", "TEM image of the ZrO<ce:inf loc=\"post\">2</ce:inf>-coated particles after calcination at 600 \u00b0C.", "4d951b622f"),
    ]),
    ("10.1016/j.carbon.2019.12.021", "Carbon", [
        ("gr1", "Fig. 1", "FESEM image of an octahedral ZIF-8 crystal grown on graphene oxide.", "c812c93fbd"),
    ]),
    ("10.1016/j.snb.2019.127107", "Sensors and Actuators B: Chemical", [
        ("gr1", "Fig. 1", "TEM image of Fe<ce:inf loc=\"post\">3</ce:inf>O<ce:inf loc=\"post\">4</ce:inf>@SiO<ce:inf loc=\"post\">2</ce:inf> core\u2013shell nanoparticles.", "7ab1f4b7ba"),
        ("gr2", "Fig. 2", "SEM image of the close-packed Fe<ce:inf loc=\"post\">3</ce:inf>O<ce:inf loc=\"post\">4</ce:inf>@SiO<ce:inf loc=\"post\">2</ce:inf> monolayer on the electrode.", "a59bcf3f13"),
        ("gr5", "Fig. 5", "Scanning electron micrograph of the SnO<ce:inf loc=\"post\">2</ce:inf> sphere array after annealing.", "80719af02f"),
    ]),
    ("10.1016/j.chemosphere.2019.06.008", "Chemosphere", [
        ("gr1", "Fig. 1", "Transmission electron micrographs of the ZnO nanoparticles before exposure.", "f78844f8ce"),
        ("gr2", "Fig. 2", "Removal of Cr(VI) as a function of contact time at pH 5.", "plot:kinetics"),
    ]),
    ("10.1016/j.saa.2019.117890", "Spectrochimica Acta Part A: Molecular and Biomolecular Spectroscopy", [
        ("gr1", "Fig. 1", "UV\u2013vis absorption spectra of the gold colloids.", "plot:uvvis"),
        ("gr2", "Fig. 2", "TEM image of the citrate-stabilised Au nanoparticles.", "85f5efb77d"),
        ("gr4", "Fig. 4", "HRTEM image of a single Au nanoparticle showing lattice fringes.", "75e968af41"),
    ]),
]
# Synthetic DOIs under 10.5555 (Crossref's test prefix): Crossref routes them to Springer Nature
# (member 297) and to MDPI (member 1968, no client: Europe PMC is tried).
SPRINGER = [
    ("10.5555/ide-demo.springer.1", [
        ("Fig1", "Fig. 1", "TEM images of mesoporous TiO<sub>2</sub> spheres at (a) low and (b) high magnification.", "6d1574872b"),
        ("Fig2", "Fig. 2", "Photocatalytic degradation of methylene blue under visible light.", "plot:kinetics"),
    ]),
    ("10.5555/ide-demo.springer.2", [
        ("Fig1", "Fig. 1", "SEM image of the Ag-decorated ZnO nanorods.", "7ea28e7e54"),
    ]),
]
EUROPEPMC = [
    ("10.5555/ide-demo.europepmc.1", "PMC9900001", [
        ("F1", "Figure 1", "TEM image of hollow Cu<sub>2</sub>O nanoshells.", "1ff313314c"),
        ("F2", "Figure 2", "Cell viability of HeLa cells after 24 h (mean \u00b1 SEM, n = 3).", "plot:bars"),
    ]),
    ("10.5555/ide-demo.europepmc.2", "PMC9900002", [
        ("F1", "Figure 1", "SEM image of CaCO<sub>3</sub> microparticles templated on polystyrene beads.", "f659af19da"),
    ]),
]
DEMO_JOURNAL = "Demo Journal of Nanomaterials (synthetic)"


def jpeg(image: Image.Image, *, scale: float = 1.0, quality: int = 85) -> bytes:
    if scale != 1.0:
        image = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=quality, optimize=True)
    return out.getvalue()


def thumbnail_gif(image: Image.Image) -> bytes:
    small = image.resize((125, round(125 * image.height / image.width)), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    small.convert("P", palette=Image.Palette.ADAPTIVE).save(out, "GIF")
    return out.getvalue()


def plot(kind: str) -> Image.Image:
    """A plain line or bar chart standing for a non-microscopy figure."""
    image = Image.new("RGB", (480, 320), "white")
    draw = ImageDraw.Draw(image)
    draw.line([(50, 20), (50, 280), (460, 280)], fill="black", width=2)
    seed = int(hashlib.sha256(kind.encode()).hexdigest()[:8], 16)
    if kind == "plot:bars":
        for i in range(5):
            height = 80 + (seed >> (i * 3)) % 150
            draw.rectangle([80 + i * 75, 280 - height, 120 + i * 75, 280], fill="grey", outline="black")
    else:
        points = []
        for x in range(52, 458, 2):
            t = (x - 52) / 406
            peaks = sum(180 * 2.718 ** (-(((t - c) / 0.01) ** 2)) for c in (0.2 + (seed % 7) / 50, 0.45, 0.7)) if kind == "plot:xrd" else 0
            smooth = {"plot:isotherm": 200 * t ** 3, "plot:kinetics": 200 * (1 - 2.718 ** (-5 * t)), "plot:uvvis": 200 * 2.718 ** (-(((t - 0.4) / 0.12) ** 2))}.get(kind, 0)
            points.append((x, 278 - min(250, peaks + smooth)))
        draw.line(points, fill="black", width=2)
    draw.text((220, 295), "2\u03b8 / degree" if kind == "plot:xrd" else "x", fill="black")
    return image


class Recorder:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.routes: list[dict] = []

    def add(self, route: dict, file: str, body: bytes) -> None:
        path = self.root / file
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
        self.routes.append({**route, "file": file})


def emps_rows(emps: Path) -> list[dict]:
    csv.field_size_limit(1 << 30)
    with (emps / "metadata.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def source_image(emps: Path, ref: str) -> Image.Image:
    return plot(ref) if ref.startswith("plot:") else Image.open(emps / "images" / f"{ref}.png").convert("RGB")


def fake_pii(doi: str) -> str:
    return "S" + str(int(hashlib.sha256(doi.encode()).hexdigest(), 16))[:16]


def elsevier_article(rec: Recorder, emps: Path, doi: str, journal: str, figures: list) -> None:
    pii = fake_pii(doi)
    eid = f"1-s2.0-{pii}"
    objects, floats = [], []
    for locator, label, caption, ref in figures:
        image = source_image(emps, ref)
        variants = [
            ("thumbnail", "IMAGE-THUMBNAIL", "GIF image file", "image/gif", ".sml", thumbnail_gif(image)),
            ("standard", "IMAGE-DOWNSAMPLED", "JPEG image file", "image/jpeg", ".jpg", jpeg(image, scale=0.6, quality=80)),
            ("high", "IMAGE-HIGH-RES", "JPEG image file", "image/jpeg", "_lrg.jpg", jpeg(image, quality=85)),
        ]
        for category, kind, multimedia, mime, suffix, body in variants:
            name = f"{eid}-{locator}{suffix}"
            size = Image.open(io.BytesIO(body)).size
            objects.append(
                f'<object ref="{locator}" category="{category}" type="{kind}" multimediatype="{multimedia}" mimetype="{mime}" '
                f'width="{size[0]}" height="{size[1]}" size="{len(body)}">https://api.elsevier.com/content/object/eid/{name}?httpAccept=%2A%2F%2A</object>'
            )
            rec.add({"path": f"/elsevier/content/object/eid/{name}", "require": {"header": "X-ELS-APIKey"}, "content_type": mime},
                    f"elsevier/object/{name}", body)
        n = locator[2:]
        floats.append(
            f'<ce:figure id="f{n.zfill(4)}"><ce:label>{label}</ce:label><ce:caption id="cap{n.zfill(4)}">'
            f'<ce:simple-para id="sp{n.zfill(4)}" view="all">{caption}</ce:simple-para></ce:caption>'
            f'<ce:link id="lnk{n.zfill(4)}" locator="{locator}" xlink:type="simple" '
            f'xlink:role="http://data.elsevier.com/vocabulary/ElsevierContentTypes/23.4" xlink:href="pii:{pii}/{locator}"/></ce:figure>'
        )
    title = f"Demo record for {doi} (EMPS figure source)"
    anchors = "".join(f'<ce:float-anchor refid="f{f[0][2:].zfill(4)}"/>' for f in figures)
    xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<!-- {NOTE} -->
<full-text-retrieval-response xmlns="http://www.elsevier.com/xml/svapi/article/dtd" xmlns:ce="http://www.elsevier.com/xml/common/dtd" xmlns:ja="http://www.elsevier.com/xml/ja/dtd" xmlns:xocs="http://www.elsevier.com/xml/xocs/dtd" xmlns:xlink="http://www.w3.org/1999/xlink" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" xmlns:prism="http://prismstandard.org/namespaces/basic/2.0/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<coredata><prism:url>https://api.elsevier.com/content/article/pii/{pii}</prism:url><dc:identifier>doi:{doi}</dc:identifier><eid>{eid}</eid><prism:doi>{doi}</prism:doi><pii>{pii}</pii><dc:title>{escape(title)}</dc:title><prism:publicationName>{escape(journal)}</prism:publicationName><prism:aggregationType>Journal</prism:aggregationType><dc:format>text/xml</dc:format><prism:publisher>Elsevier B.V.</prism:publisher><openaccess>0</openaccess><openaccessArticle>false</openaccessArticle><openaccessType/><openArchiveArticle>false</openArchiveArticle><openaccessUserLicense/><link href="https://api.elsevier.com/content/article/pii/{pii}" rel="self"/></coredata>
<objects>{"".join(objects)}</objects>
<originalText><xocs:doc><xocs:meta><xocs:doi>{doi}</xocs:doi><xocs:pii-unformatted>{pii}</xocs:pii-unformatted></xocs:meta><xocs:serial-item><ja:article docsubtype="fla" xml:lang="en"><ce:floats>{"".join(floats)}</ce:floats><ja:head><ce:title>{escape(title)}</ce:title></ja:head><ja:body><ce:sections><ce:section id="s0005"><ce:section-title>Results and discussion</ce:section-title><ce:para id="p0005">The figures of this record are EMPS images.{anchors}</ce:para></ce:section></ce:sections></ja:body></ja:article></xocs:serial-item></xocs:doc></originalText></full-text-retrieval-response>
"""
    rec.add({"path": f"/elsevier/content/article/doi/{doi}", "query": {"view": "FULL"}, "require": {"header": "X-ELS-APIKey"},
             "content_type": "text/xml;charset=UTF-8"}, f"elsevier/article/{doi.replace('/', '_')}.xml", xml.encode())


def jats_article(doi: str, figures: list, graphic: callable, *, pmcid: str | None = None) -> str:
    figs = "".join(
        f'<fig id="{locator}" position="float"><label>{label}</label><caption><p>{caption}</p></caption>'
        f'<graphic specific-use="web" xlink:href="{graphic(locator)}"/></fig>'
        for locator, label, caption, _ in figures
    )
    pmc = f'<article-id pub-id-type="pmcid">{pmcid}</article-id>' if pmcid else ""
    return (
        f'<article xmlns:xlink="http://www.w3.org/1999/xlink" xmlns:mml="http://www.w3.org/1998/Math/MathML" article-type="research-article" dtd-version="1.2" xml:lang="en">'
        f'<front><journal-meta><journal-title-group><journal-title>{DEMO_JOURNAL}</journal-title></journal-title-group>'
        f'<publisher><publisher-name>{"Springer Nature" if pmcid is None else "MDPI"}</publisher-name></publisher></journal-meta>'
        f'<article-meta>{pmc}<article-id pub-id-type="doi">{doi}</article-id><title-group><article-title>Demo record {doi}</article-title></title-group>'
        f'<permissions><license license-type="open-access" xlink:href="http://creativecommons.org/licenses/by/4.0/"><license-p>CC BY 4.0</license-p></license></permissions>'
        f'</article-meta></front><body><sec id="Sec1"><title>Results</title><p>The figures of this record are EMPS images.</p>{figs}</sec></body></article>'
    )


def crossref_work(rec: Recorder, doi: str, member: str, publisher: str) -> None:
    work = {"status": "ok", "message-type": "work", "message-version": "1.0.0",
            "message": {"DOI": doi, "prefix": "10.5555", "member": member, "publisher": publisher, "type": "journal-article",
                        "title": [f"Demo record {doi}"], "container-title": [DEMO_JOURNAL]}}
    rec.add({"path": f"/crossref/works/{doi}", "content_type": "application/json"}, f"crossref/{doi.replace('/', '_')}.json",
            json.dumps(work, indent=1).encode())


def springer_article(rec: Recorder, emps: Path, doi: str, figures: list) -> None:
    crossref_work(rec, doi, "297", "Springer Science and Business Media LLC")
    stem = doi.split("/")[1].replace(".", "_")
    graphic = lambda locator: f"MediaObjects/{stem}_{locator}_HTML.jpg"  # noqa: E731
    for locator, _, _, ref in figures:
        rec.add({"path": f"/springer-static/image/art:{doi}/{graphic(locator)}", "content_type": "image/jpeg"},
                f"springer/static/{stem}_{locator}_HTML.jpg", jpeg(source_image(emps, ref)))
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<!-- {NOTE} -->\n<response><apiMessage>This XML was provided by Springer Nature</apiMessage>'
            f'<query>doi:{doi}</query><result><total>1</total><start>1</start><pageLength>10</pageLength><recordsDisplayed>1</recordsDisplayed></result>'
            f'<records>{jats_article(doi, figures, graphic)}</records><facets/></response>\n')
    rec.add({"path": "/springer/openaccess/jats", "query": {"q": f"doi:{doi}"}, "require": {"query": "api_key"},
             "content_type": "application/xml;charset=UTF-8"}, f"springer/jats/{doi.replace('/', '_')}.xml", body.encode())


def europepmc_article(rec: Recorder, emps: Path, doi: str, pmcid: str, figures: list) -> None:
    crossref_work(rec, doi, "1968", "MDPI AG")
    graphic = lambda locator: f"demo-{pmcid.lower()}-{locator.lower()}"  # noqa: E731
    for locator, _, _, ref in figures:
        rec.add({"path": f"/europepmc-site/articles/{pmcid}/bin/{graphic(locator)}.jpg", "content_type": "image/jpeg"},
                f"europepmc/bin/{graphic(locator)}.jpg", jpeg(source_image(emps, ref)))
    hit = {"id": pmcid, "source": "PMC", "pmcid": pmcid, "doi": doi, "title": f"Demo record {doi}", "journalTitle": DEMO_JOURNAL,
           "pubYear": "2020", "isOpenAccess": "Y", "inEPMC": "Y", "inPMC": "Y", "hasPDF": "Y"}
    search = {"version": "6.9", "hitCount": 1, "request": {"queryString": f'DOI:"{doi}"', "resultType": "lite", "cursorMark": "*", "pageSize": 25},
              "resultList": {"result": [hit]}}
    rec.add({"path": "/europepmc/search", "query": {"query": f'DOI:"{doi}"', "format": "json", "resultType": "lite"},
             "content_type": "application/json;charset=UTF-8"}, f"europepmc/search/{doi.replace('/', '_')}.json", json.dumps(search, indent=1).encode())
    body = f'<?xml version="1.0" encoding="UTF-8"?>\n<!-- {NOTE} -->\n{jats_article(doi, figures, graphic, pmcid=pmcid)}\n'
    rec.add({"path": f"/europepmc/{pmcid}/fullTextXML", "content_type": "application/xml"}, f"europepmc/{pmcid}.xml", body.encode())


def defaults(rec: Recorder) -> None:
    """What the services answer for anything not recorded."""
    no_hits = {"version": "6.9", "hitCount": 0, "resultList": {"result": []}}
    rec.add({"prefix": "/europepmc/search", "content_type": "application/json;charset=UTF-8"}, "europepmc/no-hits.json", json.dumps(no_hits).encode())
    empty = '<?xml version="1.0" encoding="UTF-8"?>\n<response><result><total>0</total></result><records/></response>\n'
    rec.add({"prefix": "/springer/openaccess/jats", "require": {"query": "api_key"}, "content_type": "application/xml;charset=UTF-8"},
            "springer/no-records.xml", empty.encode())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--emps", type=Path, default=HERE.parent.parent / "shared" / "emps")
    emps = parser.parse_args().emps
    rows = emps_rows(emps)
    dois = sorted({doi_from_dotted(r["doi"]) for r in rows})
    (HERE / "emps_dois.txt").write_text(
        f"# The {len(dois)} unique DOIs of the {len(rows)} EMPS images (metadata.csv, '.' after the prefix read as '/')\n" + "\n".join(dois) + "\n"
    )
    emps_locators = {(doi_from_dotted(r["doi"]), r["locator"], Path(r["filename"]).stem) for r in rows}
    for doi, _, figures in ELSEVIER:  # the Elsevier demo figures are the EMPS images at their own DOI and locator
        for locator, _, _, ref in figures:
            if not ref.startswith("plot:") and (doi, locator, ref) not in emps_locators:
                raise SystemExit(f"{ref}: not EMPS image of {doi} {locator}")
    if DEMO.exists():
        for sub in ("elsevier", "springer", "europepmc", "crossref"):
            shutil.rmtree(DEMO / sub, ignore_errors=True)
    rec = Recorder(DEMO)
    for doi, journal, figures in ELSEVIER:
        elsevier_article(rec, emps, doi, journal, figures)
    for doi, figures in SPRINGER:
        springer_article(rec, emps, doi, figures)
    for doi, pmcid, figures in EUROPEPMC:
        europepmc_article(rec, emps, doi, pmcid, figures)
    defaults(rec)
    (DEMO / "routes.json").write_text(json.dumps({"note": NOTE, "routes": rec.routes}, indent=1) + "\n")
    all_dois = [d[0] for d in ELSEVIER] + [d[0] for d in SPRINGER] + [d[0] for d in EUROPEPMC]
    (DEMO / "dois.txt").write_text("# DOIs recorded in corpus/demo (replay with python -m imagedataextractor.harvest.replay corpus/demo)\n" + "\n".join(all_dois) + "\n")
    total = sum(p.stat().st_size for p in DEMO.rglob("*") if p.is_file())
    print(f"{len(dois)} EMPS DOIs; demo: {len(all_dois)} articles, {len(rec.routes)} routes, {total / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
