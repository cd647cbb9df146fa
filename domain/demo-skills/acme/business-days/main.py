"""Business days: calendar and working days between two dates, minus given holidays.

Contract: inputs come from the JSON file named by EXECGOV_INPUTS, files to download
go to EXECGOV_OUTPUT, and result.json in the working directory is shown as a table.
"""

import datetime
import json
import os
import re
import sys


def fail(message):
    print(f"business-days: {message}", file=sys.stderr)
    sys.exit(1)


def load_inputs():
    path = os.environ.get("EXECGOV_INPUTS", "inputs.json")
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        fail(f"cannot read the inputs ({path}): {e}")


def day(inputs, key, label):
    try:
        return datetime.date.fromisoformat(str(inputs.get(key, "")))
    except ValueError:
        fail(f"the {label} is not a date (YYYY-MM-DD)")


def holidays_of(text):
    days = set()
    for item in re.split(r"[\s,;]+", text or ""):
        if not item:
            continue
        try:
            days.add(datetime.date.fromisoformat(item))
        except ValueError:
            fail(f"the holiday {item!r} is not a date (YYYY-MM-DD)")
    return days


def main():
    inputs = load_inputs()
    start = day(inputs, "start", "start date")
    end = day(inputs, "end", "end date")
    holidays = holidays_of(inputs.get("holidays"))
    include_end = inputs.get("include_end") is True
    # Counted forwards; a reversed range gives the same counts with a minus sign.
    sign = 1
    if end < start:
        start, end, sign = end, start, -1

    last = end if include_end else end - datetime.timedelta(days=1)
    weekdays = weekend = holiday_hits = 0
    current = start
    while current <= last:
        if current.weekday() >= 5:
            weekend += 1
        elif current in holidays:
            holiday_hits += 1
        else:
            weekdays += 1
        current += datetime.timedelta(days=1)

    result = {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "end_day_counted": include_end,
        "calendar_days": sign * max((last - start).days + 1, 0),
        "business_days": sign * weekdays,
        "weekend_days": weekend,
        "holidays_on_weekdays": holiday_hits,
    }
    with open("result.json", "w", encoding="utf-8") as f:
        json.dump([result], f, indent=1)
    print(
        f"{result['business_days']} business days and {result['calendar_days']} calendar days "
        f"from {start} to {end}."
    )


if __name__ == "__main__":
    main()
