"""Article records and the files they live in: the record type
(:mod:`~newstag.data.records`), loading and validation of JSON Lines, CSV,
Parquet and raw text (:mod:`~newstag.data.loading`, :mod:`~newstag.data.raw`),
the fixed train/test split and folds (:mod:`~newstag.data.split`) and the
corpus datasheet and data commands (:mod:`~newstag.data.datasheet`).

May import :mod:`newstag.text`, :mod:`newstag.schema` and :mod:`newstag.core`.
"""

from newstag.data.loading import FORMATS, LoadResult, Validator, detect_format, iter_rows, load_labelled, load_records
from newstag.data.records import FIELDS, DataError, Problem, Record, fingerprint, shape, to_frame, write_jsonl

__all__ = [
    "FIELDS",
    "FORMATS",
    "DataError",
    "LoadResult",
    "Problem",
    "Record",
    "Validator",
    "detect_format",
    "fingerprint",
    "iter_rows",
    "load_labelled",
    "load_records",
    "shape",
    "to_frame",
    "write_jsonl",
]
