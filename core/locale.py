"""Translations and locale-aware formatting, with ``tornado.locale``'s API.

Translations come from CSV files (``es_GT.csv`` rows of ``"message","translation"``
with an optional ``"singular"``/``"plural"`` column) or from compiled gettext
catalogs (``{directory}/{lang}/LC_MESSAGES/{domain}.mo``).

State lives in a :class:`LocaleCatalog`.  The module-level functions
(:func:`get`, :func:`load_translations`, ...) act on one default catalog, as
Tornado's do, so ported code keeps working; an application that wants its
own passes ``locale_catalog=LocaleCatalog(...)`` in its settings.
"""

from __future__ import annotations

import codecs
import csv
import datetime
import gettext
import glob
import logging
import os
import re
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

__all__ = [
    "CONTEXT_SEPARATOR",
    "LOCALE_NAMES",
    "CSVLocale",
    "GettextLocale",
    "Locale",
    "LocaleCatalog",
    "default_catalog",
    "get",
    "get_supported_locales",
    "load_gettext_translations",
    "load_translations",
    "set_default_locale",
]

log = logging.getLogger("crosswind.general")

#: Separates a pgettext context from its message in gettext catalogs.
CONTEXT_SEPARATOR = "\x04"

#: English and native names of common locales (``Locale.name``).
LOCALE_NAMES: dict[str, dict[str, str]] = {
    "ar_AR": {"name_en": "Arabic", "name": "العربية"},
    "ca_ES": {"name_en": "Catalan", "name": "Català"},
    "cs_CZ": {"name_en": "Czech", "name": "Čeština"},
    "da_DK": {"name_en": "Danish", "name": "Dansk"},
    "de_DE": {"name_en": "German", "name": "Deutsch"},
    "el_GR": {"name_en": "Greek", "name": "Ελληνικά"},
    "en_GB": {"name_en": "English (UK)", "name": "English (UK)"},
    "en_US": {"name_en": "English (US)", "name": "English (US)"},
    "es_ES": {"name_en": "Spanish (Spain)", "name": "Español (España)"},
    "es_LA": {"name_en": "Spanish", "name": "Español"},
    "fa_IR": {"name_en": "Persian", "name": "فارسی"},
    "fi_FI": {"name_en": "Finnish", "name": "Suomi"},
    "fr_CA": {"name_en": "French (Canada)", "name": "Français (Canada)"},
    "fr_FR": {"name_en": "French", "name": "Français"},
    "he_IL": {"name_en": "Hebrew", "name": "עברית"},
    "hi_IN": {"name_en": "Hindi", "name": "हिन्दी"},
    "hu_HU": {"name_en": "Hungarian", "name": "Magyar"},
    "id_ID": {"name_en": "Indonesian", "name": "Bahasa Indonesia"},
    "it_IT": {"name_en": "Italian", "name": "Italiano"},
    "ja_JP": {"name_en": "Japanese", "name": "日本語"},
    "ko_KR": {"name_en": "Korean", "name": "한국어"},
    "nb_NO": {"name_en": "Norwegian (bokmal)", "name": "Norsk (bokmål)"},
    "nl_NL": {"name_en": "Dutch", "name": "Nederlands"},
    "pl_PL": {"name_en": "Polish", "name": "Polski"},
    "pt_BR": {"name_en": "Portuguese (Brazil)", "name": "Português (Brasil)"},
    "pt_PT": {"name_en": "Portuguese (Portugal)", "name": "Português (Portugal)"},
    "ro_RO": {"name_en": "Romanian", "name": "Română"},
    "ru_RU": {"name_en": "Russian", "name": "Русский"},
    "sk_SK": {"name_en": "Slovak", "name": "Slovenčina"},
    "sv_SE": {"name_en": "Swedish", "name": "Svenska"},
    "th_TH": {"name_en": "Thai", "name": "ภาษาไทย"},
    "tr_TR": {"name_en": "Turkish", "name": "Türkçe"},
    "uk_UA": {"name_en": "Ukrainian", "name": "Українська"},
    "vi_VN": {"name_en": "Vietnamese", "name": "Tiếng Việt"},
    "zh_CN": {"name_en": "Chinese (Simplified)", "name": "中文(简体)"},
    "zh_TW": {"name_en": "Chinese (Traditional)", "name": "中文(繁體)"},
}

_CSV_LOCALE_RE = re.compile(r"[a-z]+(_[A-Z]+)?")
_RTL_PREFIXES = ("fa", "ar", "he")

_MONTHS = (
    "January", "February", "March", "April", "May", "June", "July",
    "August", "September", "October", "November", "December",
)
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class Locale:
    """A language to translate and format for.

    Get instances from :func:`get` (or :meth:`LocaleCatalog.get`) rather than
    constructing them.

    :param code: the locale code, e.g. ``"pt_BR"``.
    :param clock: POSIX seconds, the "now" of relative dates.
    """

    def __init__(self, code: str, *, clock: Callable[[], float] = time.time) -> None:
        self.code = code
        self.name = LOCALE_NAMES.get(code, {}).get("name", "Unknown")
        self.rtl = code.startswith(_RTL_PREFIXES)
        self.clock = clock
        self._months = [self.translate(month) for month in _MONTHS]
        self._weekdays = [self.translate(day) for day in _WEEKDAYS]

    @classmethod
    def get_closest(cls, *locale_codes: str) -> Locale:
        """The best supported locale for *locale_codes*, from the default catalog.

        :param locale_codes: codes in order of preference.
        """
        return default_catalog.get(*locale_codes)

    @classmethod
    def get(cls, code: str) -> Locale:
        """The locale for a supported *code*, from the default catalog.

        :param code: a code that :func:`get_supported_locales` lists.
        :raises ValueError: the code is not supported.
        """
        return default_catalog.get_locale(code)

    def translate(
        self, message: str, plural_message: str | None = None, count: int | None = None
    ) -> str:
        """Translate *message*; with *plural_message*, pick the form for *count*.

        :param message: the message (its singular form).
        :param plural_message: the plural form, if the message has one.
        :param count: how many; required with *plural_message*.
        """
        if plural_message is not None and count != 1:
            return plural_message
        return message

    def pgettext(
        self,
        context: str,
        message: str,
        plural_message: str | None = None,
        count: int | None = None,
    ) -> str:
        """Translate *message* in *context* (gettext catalogs only).

        :param context: disambiguates messages that are spelled the same.
        :param message: as for :meth:`translate`.
        :param plural_message: as for :meth:`translate`.
        :param count: as for :meth:`translate`.
        """
        return self.translate(message, plural_message, count)

    def format_date(
        self,
        date: int | float | datetime.datetime,
        gmt_offset: int = 0,
        relative: bool = True,
        shorter: bool = False,
        full_format: bool = False,
        *,
        now: datetime.datetime | None = None,
    ) -> str:
        """Format a (past) date: "2 minutes ago", "yesterday at 5:10 pm", ...

        :param date: a POSIX timestamp or a datetime (naive means UTC).
        :param gmt_offset: the reader's offset from UTC in minutes (west positive).
        :param relative: allow relative forms such as "3 hours ago".
        :param shorter: leave the time of day out.
        :param full_format: always "Month day, year at time".
        :param now: the current time; defaults to the locale's clock.
        """
        if isinstance(date, int | float):
            date = datetime.datetime.fromtimestamp(date, datetime.UTC)
        if date.tzinfo is None:
            date = date.replace(tzinfo=datetime.UTC)
        if now is None:
            now = datetime.datetime.fromtimestamp(self.clock(), datetime.UTC)
        elif now.tzinfo is None:
            now = now.replace(tzinfo=datetime.UTC)
        if date > now:
            # Clock skew makes "just now" land slightly in the future.
            if relative and (date - now).total_seconds() < 60:
                date = now
            else:
                full_format = True
        offset = datetime.timedelta(minutes=gmt_offset)
        local_date = date - offset
        local_yesterday = now - offset - datetime.timedelta(hours=24)
        difference = now - date
        seconds, days = difference.seconds, difference.days
        _ = self.translate
        template = None
        if not full_format:
            if relative and days == 0:
                if seconds < 50:
                    return _("1 second ago", "%(seconds)d seconds ago", seconds) % {
                        "seconds": seconds
                    }
                if seconds < 50 * 60:
                    minutes = round(seconds / 60.0)
                    return _("1 minute ago", "%(minutes)d minutes ago", minutes) % {
                        "minutes": minutes
                    }
                hours = round(seconds / 3600.0)
                return _("1 hour ago", "%(hours)d hours ago", hours) % {"hours": hours}
            if days == 0:
                template = _("%(time)s")
            elif days == 1 and local_date.day == local_yesterday.day and relative:
                template = _("yesterday") if shorter else _("yesterday at %(time)s")
            elif days < 5:
                template = _("%(weekday)s") if shorter else _("%(weekday)s at %(time)s")
            elif days < 334:  # about 11 months: "May 3" would be ambiguous beyond
                template = (
                    _("%(month_name)s %(day)s")
                    if shorter
                    else _("%(month_name)s %(day)s at %(time)s")
                )
        if template is None:
            template = (
                _("%(month_name)s %(day)s, %(year)s")
                if shorter
                else _("%(month_name)s %(day)s, %(year)s at %(time)s")
            )
        return template % {
            "month_name": self._months[local_date.month - 1],
            "weekday": self._weekdays[local_date.weekday()],
            "day": str(local_date.day),
            "year": str(local_date.year),
            "time": self._clock_time(local_date),
        }

    def _clock_time(self, when: datetime.datetime) -> str:
        if self.code == "zh_CN":
            half = "下午" if when.hour >= 12 else "上午"
            return "%s%d:%02d" % (half, when.hour % 12 or 12, when.minute)
        if self.code in ("en", "en_US"):
            return "%d:%02d %s" % (when.hour % 12 or 12, when.minute, "pm" if when.hour >= 12 else "am")
        return "%d:%02d" % (when.hour, when.minute)

    def format_day(self, date: datetime.datetime, gmt_offset: int = 0, dow: bool = True) -> str:
        """Format a day, e.g. "Monday, January 22" (or "January 22" without *dow*).

        :param date: the day.
        :param gmt_offset: the reader's offset from UTC in minutes (west positive).
        :param dow: include the day of the week.
        """
        local_date = date - datetime.timedelta(minutes=gmt_offset)
        values = {
            "month_name": self._months[local_date.month - 1],
            "weekday": self._weekdays[local_date.weekday()],
            "day": str(local_date.day),
        }
        if dow:
            return self.translate("%(weekday)s, %(month_name)s %(day)s") % values
        return self.translate("%(month_name)s %(day)s") % values

    def list(self, parts: Sequence[str]) -> str:
        """Join *parts* as "A, B and C".

        :param parts: a sequence of strings.
        """
        if len(parts) == 0:
            return ""
        if len(parts) == 1:
            return parts[0]
        comma = " و " if self.code.startswith("fa") else ", "
        return self.translate("%(commas)s and %(last)s") % {
            "commas": comma.join(parts[:-1]),
            "last": parts[-1],
        }

    def friendly_number(self, value: int) -> str:
        """Group digits with commas (English locales only).

        :param value: the integer.
        """
        if self.code not in ("en", "en_US"):
            return str(value)
        return f"{value:,}"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.code}>"


class CSVLocale(Locale):
    """A locale whose translations came from a CSV file.

    :param code: the locale code.
    :param translations: ``{"singular"|"plural"|"unknown": {message: translation}}``.
    :param clock: POSIX seconds.
    """

    def __init__(
        self,
        code: str,
        translations: dict[str, dict[str, str]],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.translations = translations
        super().__init__(code, clock=clock)

    def translate(
        self, message: str, plural_message: str | None = None, count: int | None = None
    ) -> str:
        if plural_message is not None:
            if count is None:
                raise ValueError("translate() with a plural message needs a count")
            if count != 1:
                message = plural_message
                table = self.translations.get("plural", {})
            else:
                table = self.translations.get("singular", {})
        else:
            table = self.translations.get("unknown", {})
        return table.get(message, message)

    def pgettext(
        self,
        context: str,
        message: str,
        plural_message: str | None = None,
        count: int | None = None,
    ) -> str:
        if self.translations:
            log.warning("pgettext is not supported by CSVLocale")
        return self.translate(message, plural_message, count)


class GettextLocale(Locale):
    """A locale backed by a gettext catalog.

    :param code: the locale code.
    :param translations: the loaded catalog.
    :param clock: POSIX seconds.
    """

    def __init__(
        self,
        code: str,
        translations: gettext.NullTranslations,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.gettext = translations.gettext
        self.ngettext = translations.ngettext
        super().__init__(code, clock=clock)

    def translate(
        self, message: str, plural_message: str | None = None, count: int | None = None
    ) -> str:
        if plural_message is not None:
            if count is None:
                raise ValueError("translate() with a plural message needs a count")
            return self.ngettext(message, plural_message, count)
        return self.gettext(message)

    def pgettext(
        self,
        context: str,
        message: str,
        plural_message: str | None = None,
        count: int | None = None,
    ) -> str:
        if plural_message is not None:
            if count is None:
                raise ValueError("pgettext() with a plural message needs a count")
            result = self.ngettext(
                f"{context}{CONTEXT_SEPARATOR}{message}",
                f"{context}{CONTEXT_SEPARATOR}{plural_message}",
                count,
            )
            if CONTEXT_SEPARATOR in result:  # no translation in this context
                return self.ngettext(message, plural_message, count)
            return result
        result = self.gettext(f"{context}{CONTEXT_SEPARATOR}{message}")
        return message if CONTEXT_SEPARATOR in result else result


class LocaleCatalog:
    """The loaded translations and the default locale.

    :param default_locale: the language the application's messages are written in.
    :param clock: POSIX seconds, handed to the locales for relative dates.
    """

    def __init__(
        self, default_locale: str = "en_US", *, clock: Callable[[], float] = time.time
    ) -> None:
        self.default_locale = default_locale
        self.clock = clock
        self._translations: dict[str, Any] = {}
        self._use_gettext = False
        self._cache: dict[str, Locale] = {}

    @property
    def supported_locales(self) -> frozenset[str]:
        """The codes with translations, plus the default locale."""
        return frozenset([*self._translations, self.default_locale])

    def set_default_locale(self, code: str) -> None:
        """Change the language the untranslated messages are in.

        :param code: a locale code.
        """
        self.default_locale = code
        self._cache.clear()

    def get(self, *locale_codes: str) -> Locale:
        """The best supported match for *locale_codes*, else the default locale.

        ``"en-us"`` and ``"en_US"`` are the same code; ``"pt_PT"`` falls back to
        ``"pt"`` when only that is supported.

        :param locale_codes: codes in order of preference.
        """
        supported = self.supported_locales
        for code in locale_codes:
            if not code:
                continue
            parts = code.replace("-", "_").split("_")
            if len(parts) > 2:
                continue
            language = parts[0].lower()
            full = f"{language}_{parts[1].upper()}" if len(parts) == 2 else language
            if full in supported:
                return self.get_locale(full)
            if language in supported:
                return self.get_locale(language)
        return self.get_locale(self.default_locale)

    def get_locale(self, code: str) -> Locale:
        """The locale for *code*, which must be supported.

        :param code: a supported code.
        :raises ValueError: it is not supported.
        """
        cached = self._cache.get(code)
        if cached is not None:
            return cached
        if code not in self.supported_locales:
            raise ValueError(f"locale {code!r} is not supported")
        translations = self._translations.get(code)
        if translations is None:
            locale: Locale = CSVLocale(code, {}, clock=self.clock)
        elif self._use_gettext:
            locale = GettextLocale(code, translations, clock=self.clock)
        else:
            locale = CSVLocale(code, translations, clock=self.clock)
        self._cache[code] = locale
        return locale

    def load_translations(self, directory: str, encoding: str | None = None) -> None:
        """Load every ``LOCALE.csv`` file in *directory*, replacing what was loaded.

        :param directory: the folder of CSV files.
        :param encoding: the files' encoding; by default UTF-16 if they start
            with its byte-order mark, else UTF-8 (with or without BOM).
        """
        translations: dict[str, dict[str, dict[str, str]]] = {}
        for filename in sorted(os.listdir(directory)):
            if not filename.endswith(".csv"):
                continue
            code = filename[: -len(".csv")]
            path = os.path.join(directory, filename)
            if not _CSV_LOCALE_RE.fullmatch(code):
                log.error("Unrecognized locale %r (path: %s)", code, path)
                continue
            file_encoding = encoding or _sniff_encoding(path)
            table: dict[str, dict[str, str]] = {}
            with open(path, encoding=file_encoding, newline="") as handle:
                for line, row in enumerate(csv.reader(handle), start=1):
                    if len(row) < 2:
                        continue
                    row = [cell.strip() for cell in row]
                    message, translation = row[0], row[1]
                    plural = (row[2] if len(row) > 2 else "") or "unknown"
                    if plural not in ("plural", "singular", "unknown"):
                        log.error(
                            "Unrecognized plural indicator %r in %s line %d", plural, path, line
                        )
                        continue
                    table.setdefault(plural, {})[message] = translation
            translations[code] = table
        self._translations = translations
        self._use_gettext = False
        self._cache.clear()

    def load_gettext_translations(self, directory: str, domain: str) -> None:
        """Load ``{directory}/{lang}/LC_MESSAGES/{domain}.mo`` catalogs.

        :param directory: the locale tree.
        :param domain: the catalog name.
        """
        translations: dict[str, gettext.NullTranslations] = {}
        pattern = os.path.join(directory, "*", "LC_MESSAGES", domain + ".mo")
        for filename in sorted(glob.glob(pattern)):
            lang = os.path.basename(os.path.dirname(os.path.dirname(filename)))
            try:
                translations[lang] = gettext.translation(domain, directory, languages=[lang])
            except (OSError, ValueError) as exc:
                log.error("Cannot load translation for %r: %s", lang, exc)
        self._translations = translations
        self._use_gettext = True
        self._cache.clear()


def _sniff_encoding(path: str) -> str:
    with open(path, "rb") as handle:
        start = handle.read(2)
    if start in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        return "utf-16"
    return "utf-8-sig"


#: The catalog the module-level functions use.
default_catalog = LocaleCatalog()


def get(*locale_codes: str) -> Locale:
    """The best supported locale for *locale_codes* (default catalog).

    :param locale_codes: codes in order of preference.
    """
    return default_catalog.get(*locale_codes)


def set_default_locale(code: str) -> None:
    """Set the default catalog's default locale.

    :param code: a locale code.
    """
    default_catalog.set_default_locale(code)


def load_translations(directory: str, encoding: str | None = None) -> None:
    """Load CSV translations into the default catalog.

    :param directory: the folder of ``LOCALE.csv`` files.
    :param encoding: the files' encoding (detected by default).
    """
    default_catalog.load_translations(directory, encoding)


def load_gettext_translations(directory: str, domain: str) -> None:
    """Load gettext catalogs into the default catalog.

    :param directory: the locale tree.
    :param domain: the catalog name.
    """
    default_catalog.load_gettext_translations(directory, domain)


def get_supported_locales() -> Iterable[str]:
    """The default catalog's supported locale codes."""
    return default_catalog.supported_locales

