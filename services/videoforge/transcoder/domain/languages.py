"""Languages of audio tracks: the ISO 639-2 codes containers tag them with, as the BCP 47 tags manifests and
players use (`eng` → `en`, `fre`/`fra` → `fr`), and their names for a menu."""

from __future__ import annotations

import re

UNDETERMINED = "und"

# (BCP 47 tag, its ISO 639-2 codes (bibliographic and terminologic), English name): the languages a player's
# menu most often shows. A code not listed is kept as it is (a 3-letter code is a valid BCP 47 tag) without a name.
_LANGUAGES = (
    ("ar", "ara", "Arabic"), ("bg", "bul", "Bulgarian"), ("bn", "ben", "Bengali"), ("bo", "bod tib", "Tibetan"),
    ("ca", "cat", "Catalan"), ("cs", "ces cze", "Czech"), ("cy", "cym wel", "Welsh"), ("da", "dan", "Danish"),
    ("de", "deu ger", "German"), ("el", "ell gre", "Greek"), ("en", "eng", "English"), ("es", "spa", "Spanish"),
    ("et", "est", "Estonian"), ("eu", "eus baq", "Basque"), ("fa", "fas per", "Persian"), ("fi", "fin", "Finnish"),
    ("fr", "fra fre", "French"), ("ga", "gle", "Irish"), ("gl", "glg", "Galician"), ("he", "heb", "Hebrew"),
    ("hi", "hin", "Hindi"), ("hr", "hrv", "Croatian"), ("hu", "hun", "Hungarian"), ("hy", "hye arm", "Armenian"),
    ("id", "ind", "Indonesian"), ("is", "isl ice", "Icelandic"), ("it", "ita", "Italian"), ("ja", "jpn", "Japanese"),
    ("ka", "kat geo", "Georgian"), ("ko", "kor", "Korean"), ("lt", "lit", "Lithuanian"), ("lv", "lav", "Latvian"),
    ("mk", "mkd mac", "Macedonian"), ("ms", "msa may", "Malay"), ("my", "mya bur", "Burmese"),
    ("nb", "nob", "Norwegian Bokmål"), ("nl", "nld dut", "Dutch"), ("nn", "nno", "Norwegian Nynorsk"),
    ("no", "nor", "Norwegian"), ("pl", "pol", "Polish"), ("pt", "por", "Portuguese"), ("ro", "ron rum", "Romanian"),
    ("ru", "rus", "Russian"), ("sk", "slk slo", "Slovak"), ("sl", "slv", "Slovenian"), ("sq", "sqi alb", "Albanian"),
    ("sr", "srp", "Serbian"), ("sv", "swe", "Swedish"), ("sw", "swa", "Swahili"), ("ta", "tam", "Tamil"),
    ("te", "tel", "Telugu"), ("th", "tha", "Thai"), ("tl", "tgl", "Tagalog"), ("tr", "tur", "Turkish"),
    ("uk", "ukr", "Ukrainian"), ("ur", "urd", "Urdu"), ("vi", "vie", "Vietnamese"), ("zh", "zho chi", "Chinese"),
)  # fmt: skip
_SHORT = {code: tag for tag, codes, _ in _LANGUAGES for code in codes.split()}
_NAMES = {tag: name for tag, _, name in _LANGUAGES}
# A primary language subtag, then subtags such as a region or script (`en-US`, `zh-Hant`); `_` is read as `-`.
_TAG = re.compile(r"(?P<primary>[a-z]{2,3})(?P<rest>(?:-[a-z0-9]{1,8})*)")


def bcp47(tag: str) -> str:
    """A container's language tag as a BCP 47 tag: ISO 639-2 codes shortened where ISO 639-1 has one,
    `und` for an empty or malformed one (it ends up in manifests, so nothing else gets through)."""
    match = _TAG.fullmatch(tag.strip().lower().replace("_", "-"))
    if match is None:
        return UNDETERMINED
    subtags = [_conventional_case(subtag) for subtag in match["rest"].split("-")[1:]]
    return "-".join([_SHORT.get(match["primary"], match["primary"]), *subtags])


def language_name(tag: str) -> str | None:
    """The English name of a BCP 47 tag's language (`en-US` → English), when known."""
    return _NAMES.get(tag.partition("-")[0])


def _conventional_case(subtag: str) -> str:
    """Regions in capitals (`US`), scripts in title case (`Hant`), the rest lower case, as BCP 47 writes them."""
    if len(subtag) == 2 and subtag.isalpha():
        return subtag.upper()
    return subtag.title() if len(subtag) == 4 and subtag.isalpha() else subtag
