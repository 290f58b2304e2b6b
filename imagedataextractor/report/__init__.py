"""REPORT: a static review site over a results database (``ide report``).

``write_report(db, out)`` writes ``out/index.html`` (articles and figures, filters by material,
microscopy and status, failed and skipped items with their reasons; paginated) and one page per
article (or per figure without an article) with, per panel, the overlay, histograms, g(r), the
particle table and the provenance. Everything is drawn from the database rows, so the site works
over any database; it opens from disk (no server, nothing fetched from the network).
"""

from .site import PAGES_FOLDER, ReportError, ReportSummary, write_report

__all__ = ["PAGES_FOLDER", "ReportError", "ReportSummary", "write_report"]
