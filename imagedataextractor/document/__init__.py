"""DOCUMENT stage: parse articles (Elsevier XML, JATS, publisher HTML) into figures with captions,
image references and an electron-microscopy decision per caption.

>>> from imagedataextractor.document import analyse_caption
>>> analyse_caption("TEM images of Au nanorods").decision
EMDecision(is_em=True, microscopy=('TEM',), materials=('Au',))
"""

from .captions import analyse_caption
from .corpus import DoiError, article_dir, dirname_to_doi, doi_to_dirname, normalise_doi
from .parse import CorpusReading, parse_article, parse_article_bytes, read_corpus
from .types import Article, CaptionAnalysis, EMDecision, Figure, Mention

__all__ = [
    "Article",
    "CaptionAnalysis",
    "CorpusReading",
    "DoiError",
    "EMDecision",
    "Figure",
    "Mention",
    "analyse_caption",
    "article_dir",
    "dirname_to_doi",
    "doi_to_dirname",
    "normalise_doi",
    "parse_article",
    "parse_article_bytes",
    "read_corpus",
]
