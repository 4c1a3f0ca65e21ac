"""Label archives on Spark (the optional extra ``spark``): ``newstag predict
--engine spark`` and :func:`label_dataframe` for your own jobs.

The driver (:mod:`~newstag.spark.job`) broadcasts each model's compact form;
the executors (:mod:`~newstag.spark.executor`) verify it against the
manifest's sha256, load it once per process and label rows in
``mapInPandas`` with the same validation and scoring as the local CLI. No
scikit-learn on the executors. An entry-point-level package: it may import
serve, registry, engine, data, text and core; pyspark is imported only here,
never by ``import newstag`` or ``newstag --help``.

Example::

    from newstag.spark import label_dataframe, session, ship_models
    spark = session("local[2]")
    models = ship_models(spark, ["topics@production", "actors@production"])
    labelled = label_dataframe(spark.read.parquet("news/"), models, columns={"text": "body"})
"""

from newstag.spark.job import SparkUsageError, label_dataframe, predict, read_inputs, session, ship_models

__all__ = ["SparkUsageError", "label_dataframe", "predict", "read_inputs", "session", "ship_models"]
