"""Model bundles: lookup, loading, verification and import of original BPartIS checkpoints."""

from .registry import DEFAULT_MODEL, ModelBundle, list_models, resolve, user_model_dir

__all__ = ["DEFAULT_MODEL", "ModelBundle", "list_models", "resolve", "user_model_dir"]
