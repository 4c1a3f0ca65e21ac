"""The main file for ``spark-submit``: the ``newstag`` command, with the session
``spark-submit`` configured (its --master, executors and conf).

    pip wheel --no-deps -w dist .
    spark-submit --master spark://host:7077 --py-files dist/newstag-0.1.0-py3-none-any.whl \\
        scripts/newstag_spark.py predict s3a://bucket/news/ --engine spark --output s3a://bucket/labels/ \\
        --model /models/topics/v3 --model /models/actors/v2

(spark-submit runs a file, not ``python -m``; this file is outside the package
so that its folder, put first on ``sys.path``, shadows nothing.)
"""

import sys

from newstag.cli import main

if __name__ == "__main__":
    sys.exit(main())
