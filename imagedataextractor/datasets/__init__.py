"""Labelled datasets in the EMPS layout."""

from .emps import Sample, default_emps_dir, load_split

__all__ = ["Sample", "default_emps_dir", "load_split"]
