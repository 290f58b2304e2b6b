"""HARVEST stage: fetch articles' full text and figure files by DOI into a corpus directory.

Sources: Elsevier (Article and Object Retrieval APIs), Springer Nature open access (JATS), Europe
PMC (open-access JATS), with Crossref to route DOIs whose prefix we do not know. Endpoints and keys
come from environment variables or ``ide.toml`` (see :mod:`.config`); the corpus layout is
:mod:`imagedataextractor.document.corpus`.
"""

from .config import Endpoints, HarvestConfig, Secret, Settings, load_settings
from .dois import doi_from_dotted, read_doi_list
from .harvester import PUBLISHER_CHOICES, DoiOutcome, Harvester, HarvestSummary, harvest
from .http import FetchError

__all__ = [
    "PUBLISHER_CHOICES",
    "DoiOutcome",
    "Endpoints",
    "FetchError",
    "HarvestConfig",
    "HarvestSummary",
    "Harvester",
    "Secret",
    "Settings",
    "doi_from_dotted",
    "harvest",
    "load_settings",
    "read_doi_list",
]
