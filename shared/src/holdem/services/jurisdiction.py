"""Jurisdiction and age (SPEC §10; docs/compliance.md, "Jurisdiction and age").

The caller's country comes from CloudFront's ``CloudFront-Viewer-Country`` header only when
``JURISDICTION__TRUST_COUNTRY_HEADER`` says the API sits behind CloudFront (which sets the
header itself, overwriting a client's); otherwise, and when it is absent, from
``JURISDICTION__DEFAULT_COUNTRY``. Registration and login are refused from a country in
``JURISDICTION__BLOCKED_COUNTRIES``; registration also needs a date of birth at least
``JURISDICTION__MINIMUM_AGE`` years ago.

>>> age_on(date(2007, 12, 8), date(2025, 12, 7)), age_on(date(2007, 12, 7), date(2025, 12, 7))
(17, 18)

Errors (403 and 400 at the API)::

    CountryBlocked        country_blocked
    UnderMinimumAge       under_minimum_age
    DateOfBirthInvalid    invalid_date_of_birth
"""

from __future__ import annotations

import re
from datetime import date

from holdem.config import JurisdictionSettings
from holdem.services import errors

COUNTRY_HEADER = "cloudfront-viewer-country"
_ALPHA2 = re.compile(r"[A-Z]{2}")


class CountryBlocked(errors.Forbidden):
    code = "country_blocked"


class UnderMinimumAge(errors.Forbidden):
    code = "under_minimum_age"


class DateOfBirthInvalid(errors.InvalidInput):
    code = "invalid_date_of_birth"


def country_of(header: str | None, settings: JurisdictionSettings) -> str | None:
    """The caller's ISO 3166-1 alpha-2 country, or None when unknown."""
    if settings.trust_country_header and header:
        candidate = header.strip().upper()
        if _ALPHA2.fullmatch(candidate):
            return candidate
    return settings.default_country.upper() or None


def check_country(country: str | None, settings: JurisdictionSettings) -> None:
    """Refuse a caller from a blocked country (or of unknown country, when so configured)."""
    blocked = {c.upper() for c in settings.blocked_countries}
    if country is None:
        if blocked and settings.refuse_unknown_country:
            raise CountryBlocked("this service is not available where you are", {"country": None})
        return
    if country in blocked:
        raise CountryBlocked("this service is not available in your country", {"country": country})


def age_on(born: date, today: date) -> int:
    """Whole years from `born` to `today` (a 29 February birthday comes of age on 1 March)."""
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def check_age(born: date, today: date, settings: JurisdictionSettings) -> None:
    """Refuse a date of birth in the future or implausibly old, or under the minimum age."""
    if born > today or born.year < 1900:
        raise DateOfBirthInvalid("the date of birth is not a valid one", {"field": "date_of_birth"})
    if age_on(born, today) < settings.minimum_age:
        raise UnderMinimumAge(
            f"you must be at least {settings.minimum_age} to register",
            {"minimum_age": settings.minimum_age},
        )
