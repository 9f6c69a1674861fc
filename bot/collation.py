"""Alphabetical order as readers of each language of the bot expect it, without ICU.

Code-point order puts Kazakh Ақмола after Атырау and Әндіжан last, Uzbek O‘zbekiston among the O-words and
Russian Ёлкино before every А. `sort_key(text, lang)` orders by the language's own alphabet instead:
case-insensitive, punctuation ignored, words compared one by one (a space sorts before any letter), digits
before letters, and characters the alphabet does not know after all that it knows.

The alphabets follow CLDR's collation tailorings (common/collation/*.xml) and the official alphabets:
- kk: CLDR puts ё after е, ұ before ү and і between ы and ь, on top of the root order of ә ғ қ ң ө һ;
- uz (Latin): CLDR puts o‘ g‘ sh ch after z, as letters of their own, and spells o‘/g‘ with any of ‘ ' ʻ ’ `;
  following CLDR's note from native speakers and linguists, ng is two letters (Namangan is n-a-m-a-n-g-a-n),
  and the tutuq belgisi (the ’ in ma’lumot) is punctuation;
- uz_Cyrl: the official 35 letters, ў қ ғ ҳ after я;
- tk: CLDR (ç ä ž ň ö ş ü ý after c e j n o s u y);
- ru: as CLDR and Russian dictionaries, ё sorts with е and only after it where words are otherwise equal.
Any other language falls back to English (a–z).

Only lists the bot orders itself (regions, names in staff counts) use this. A flow's options keep the order
their author gave them: it carries meaning (the likeliest answers first, "Other" and "Don't know" last).
"""

from __future__ import annotations

import unicodedata
from functools import cache

APOSTROPHES = "‘'ʻ’`"
"""The ways people type the mark of Uzbek o‘ and g‘."""
ALPHABETS = {
    "kk": "а ә б в г ғ д е ё ж з и й к қ л м н ң о ө п р с т у ұ ү ф х һ ц ч ш щ ъ ы і ь э ю я",
    "uz": "a b d e f g h i j k l m n o p q r s t u v x y z o‘ g‘ sh ch",
    "uz_Cyrl": "а б в г д е ё ж з и й к л м н о п р с т у ф х ц ч ш ъ ь э ю я ў қ ғ ҳ",
    "tk": "a b ç d e ä f g h i j ž k l m n ň o ö p r s ş t u ü w y ý z",
    "ru": "а б в г д е ж з и й к л м н о п р с т у ф х ц ч ш щ ъ ы ь э ю я",
    "en": "a b c d e f g h i j k l m n o p q r s t u v w x y z",
}
VARIANTS = {"ru": {"ё": "е"}}
"""Letters that sort as another letter, after it where words are otherwise equal."""
SPACE, FIRST_DIGIT, FIRST_LETTER, UNKNOWN = 0, 1, 100, 10_000
"""Ranks: a word break, then digits, then the alphabet, then characters the alphabet does not know."""


@cache
def _letters(lang: str) -> tuple[dict[str, int], dict[str, str], int]:
    """Each letter (or digraph) with its rank, the variants, and the length of the longest letter."""
    letters = ALPHABETS.get(lang, ALPHABETS["en"]).split()
    ranks = {letter: FIRST_LETTER + n for n, letter in enumerate(letters)}
    for letter in [letter for letter in letters if letter.endswith("‘")]:
        for mark in APOSTROPHES:
            ranks[letter[:-1] + mark] = ranks[letter]
    return ranks, VARIANTS.get(lang, {}), max(len(letter) for letter in ranks)


def sort_key(text: str, lang: str) -> tuple[tuple[int, ...], tuple[int, ...], str]:
    """A key for sorted(): the letters' ranks, then variants and accents, then the text itself for ties."""
    ranks, variants, longest = _letters(lang)
    folded = unicodedata.normalize("NFC", text).lower().strip()
    primary: list[int] = []
    secondary: list[int] = []
    index = 0
    while index < len(folded):
        for length in range(min(longest, len(folded) - index), 0, -1):
            piece = folded[index : index + length]
            if piece in ranks:
                primary.append(ranks[piece])
                secondary.append(0)
                index += length
                break
        else:
            rank, accent = _single(folded[index], ranks, variants)
            if rank is not None and not (rank == SPACE and primary[-1:] == [SPACE]):
                primary.append(rank)
                secondary.append(accent)
            index += 1
    while primary[-1:] == [SPACE]:
        primary.pop()
        secondary.pop()
    return tuple(primary), tuple(secondary), text


def _single(char: str, ranks: dict[str, int], variants: dict[str, str]) -> tuple[int | None, int]:
    """The rank of one character outside the alphabet's letters: None for punctuation, which is ignored."""
    if char in variants:
        return ranks[variants[char]], 1
    if char.isspace():
        return SPACE, 0
    if char.isdigit():
        return FIRST_DIGIT + unicodedata.digit(char, 0), 0
    if not char.isalnum():
        return None, 0
    base = unicodedata.normalize("NFD", char)[0]
    if base != char and base in ranks:  # é in English, ö in Russian: the letter, accented
        return ranks[base], 1
    return UNKNOWN + ord(char), 0
