#!/usr/bin/env python3
"""The reference for pybgd's cron tests: reads lines `EXPRESSION<TAB>EPOCH-SECONDS`, writes for each
the next firing after that instant in UTC as croniter computes it (epoch seconds), or `none`.
Run by Tests/PyBackgroundTests/CronReferenceTests.swift with the venv scripts/test makes."""
import datetime
import sys

from croniter import croniter

for line in sys.stdin:
    expression, start = line.rstrip("\n").split("\t")
    moment = datetime.datetime.fromtimestamp(int(start), tz=datetime.timezone.utc)
    try:
        fire = croniter(expression, moment, second_at_beginning=len(expression.split()) == 6,
                        max_years_between_matches=30).get_next(float)
        print(int(fire))
    except Exception as error:  # croniter refuses or finds nothing: say so, the test compares
        print(f"none {type(error).__name__}")
    sys.stdout.flush()
