"""Backbone loading and task heads."""

from peftal.models.backbone import DEFAULT_MODEL, load_backbone, resolve_model
from peftal.models.heads import POOLINGS, TextClassifier

__all__ = ["DEFAULT_MODEL", "POOLINGS", "TextClassifier", "load_backbone", "resolve_model"]
