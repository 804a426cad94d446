"""Times and durations as the HTTP API writes them: ISO-8601 UTC instants and .NET TimeSpan strings."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Optional, Union

_INSTANT = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?(?:([Zz])|([+-])(\d{2}):?(\d{2}))?$"
)
# .NET's TimeSpan "c" format: [-][d.]hh:mm:ss[.fffffff]
_TIMESPAN = re.compile(r"^(-)?(?:(\d+)\.)?(\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d{1,7}))?$")
# ISO-8601 duration with days, hours, minutes and seconds (no years or months: they have no fixed length).
_ISO_DURATION = re.compile(
    r"^(-)?P(?!$)(?:(\d+(?:[.,]\d+)?)W)?(?:(\d+(?:[.,]\d+)?)D)?"
    r"(?:T(?=\d)(?:(\d+(?:[.,]\d+)?)H)?(?:(\d+(?:[.,]\d+)?)M)?(?:(\d+(?:[.,]\d+)?)S)?)?$",
    re.IGNORECASE,
)


def parse_datetime(value: Optional[str]) -> Optional[datetime]:
    """An ISO-8601 instant ("2026-01-01T14:00:00.1234567Z") as an aware datetime in UTC; None stays None.

    The server writes up to 7 fractional digits (.NET ticks); Python keeps microseconds, so the 7th is dropped.
    A time without an offset is taken as UTC, as the API writes only UTC.
    """
    if value is None:
        return None
    match = _INSTANT.match(value.strip())
    if not match:
        raise ValueError(f"not an ISO-8601 time: {value!r}")
    year, month, day, hour, minute, second, fraction, zulu, sign, off_h, off_m = match.groups()
    micro = int((fraction or "")[:6].ljust(6, "0"))
    tz = timezone.utc
    if sign:
        offset = timedelta(hours=int(off_h), minutes=int(off_m))
        tz = timezone(-offset if sign == "-" else offset)
    moment = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tzinfo=tz)
    return moment.astimezone(timezone.utc)


def _number(text: Optional[str]) -> float:
    return float(text.replace(",", ".")) if text else 0.0


def parse_duration(value: Optional[str]) -> Optional[timedelta]:
    """A duration as "hh:mm:ss", "d.hh:mm:ss[.fffffff]" (.NET) or ISO-8601 ("PT30M", "P1DT2H"); None stays None."""
    if value is None:
        return None
    text = value.strip()
    match = _TIMESPAN.match(text)
    if match:
        negative, days, hours, minutes, seconds, fraction = match.groups()
        result = timedelta(
            days=int(days or 0), hours=int(hours), minutes=int(minutes), seconds=int(seconds),
            microseconds=int((fraction or "")[:6].ljust(6, "0")),
        )
        return -result if negative else result
    match = _ISO_DURATION.match(text)
    if match:
        negative, weeks, days, hours, minutes, seconds = match.groups()
        result = timedelta(weeks=_number(weeks), days=_number(days), hours=_number(hours),
                           minutes=_number(minutes), seconds=_number(seconds))
        return -result if negative else result
    raise ValueError(f"not a duration (hh:mm:ss or ISO-8601): {value!r}")


def format_duration(value: Union[timedelta, str, int, float]) -> str:
    """The wire form of a duration: a string passes as it is (the server checks it); a timedelta, or a number of
    seconds, becomes "hh:mm:ss[.ffffff]" below a day and ISO-8601 ("P1DT2H3M4S") from a day on."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        raise TypeError("a duration is a datetime.timedelta, a number of seconds or a string")
    if isinstance(value, (int, float)):
        value = timedelta(seconds=value)
    if not isinstance(value, timedelta):
        raise TypeError("a duration is a datetime.timedelta, a number of seconds or a string")
    negative = value < timedelta(0)
    value = abs(value)
    days = value.days
    hours, rest = divmod(value.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    micro = value.microseconds
    if days == 0:
        text = f"{hours:02d}:{minutes:02d}:{seconds:02d}" + (f".{micro:06d}" if micro else "")
        return ("-" if negative else "") + text
    secs = f"{seconds}.{micro:06d}".rstrip("0") if micro else str(seconds)
    text = f"P{days}D"
    if hours or minutes or seconds or micro:
        text += "T" + (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "") + (
            f"{secs}S" if seconds or micro else "")
    return ("-" if negative else "") + text
