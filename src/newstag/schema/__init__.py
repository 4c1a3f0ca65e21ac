"""The label schema: topic and actor ids, names, definitions and aliases read
from ``data/labels.yaml``, and label lists as indicator matrices.

May import :mod:`newstag.core` only.
"""

from newstag.schema.labels import KINDS, LabelSchema, binarize, load_schema

__all__ = ["KINDS", "LabelSchema", "binarize", "load_schema"]
