"""Translations from the Babel/gettext catalogs under web/locale, compiled in memory at start-up (so no
generated .mo files live in the repository). zh-CN is the default; English is the second language."""

from __future__ import annotations

import gettext
import io
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LOCALES = ("zh_CN", "en")
DEFAULT_LOCALE = "zh_CN"
LANG_COOKIE = "xl_lang"
HTML_LANG = {"zh_CN": "zh-CN", "en": "en"}


@cache
def translations(locale: str) -> gettext.NullTranslations:
    po = LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po"
    if not po.exists():
        return gettext.NullTranslations()
    with po.open("rb") as fh:
        catalog = read_po(fh, locale=locale)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return gettext.GNUTranslations(buf)


@cache
def js_catalog(locale: str) -> dict[str, str]:
    """Every translated message, for the ES modules (they call t('English text'))."""
    po = LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po"
    if not po.exists():
        return {}
    with po.open("rb") as fh:
        catalog = read_po(fh, locale=locale)
    return {str(m.id): str(m.string) for m in catalog if m.id and m.string and isinstance(m.id, str)}


def pick_locale(cookie: str | None, user_locale: str | None, default: str = DEFAULT_LOCALE) -> str:
    for candidate in (cookie, user_locale, default):
        if candidate in LOCALES:
            return candidate
    return DEFAULT_LOCALE
