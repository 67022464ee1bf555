"""Caption tokenisation as the COCO evaluation does it, without Java.

pycocoevalcap 1.2's ``PTBTokenizer`` joins every caption of a call with line breaks (a caption's
own "\\n" becomes a space), runs Stanford CoreNLP 3.4.1's ``edu.stanford.nlp.process.PTBTokenizer
-preserveLines -lowerCase`` on that text, splits the output at line breaks and drops the tokens
in its punctuation list. CIDEr then splits each caption at white space. This module reproduces
that chain; the rules below are written here from the tokenizer's documented behaviour (its
javadoc: "Penn Treebank conventions" plus the ``ptb3Escaping`` normalisations, all on by default)
and from what it was seen to do, and ``tests/data/cider_pycocoevalcap.json`` holds the Java
tokenizer's output on generated captions that exercise every rule.

How the tokenizer reads text: at each position every token kind below is tried; the longest
match wins, the text a kind only looks ahead at counting towards its length, and the earlier
kind wins a tie. Literal words match in any case; character sets do not change case. The text
is read in UTF-16 code units, as Java reads it: a character beyond U+FFFF (an emoji) is two
units, neither a letter, and is dropped, as is anything no kind matches. Every token is
lower-cased on its own.

What that gives on captions: clitics split ("man's" -> "man 's", "can't" -> "ca n't", also
inside hyphenated words: "can't-miss" -> "ca n't - miss"), "cannot", "gonna", "wanna", "gotta",
"lemme", "gimme", "'tis" and "'twas" split in two; hyphenated words, decimals and numbers with
separators whole ("black-and-white", "3.5-inch", "1,000"); the periods of abbreviations and
acronyms kept ("mr.", "st.", "etc.", "p.m.", "u.s."), except a one-letter acronym before a word
that starts a sentence ("A. The" -> "a"); "#hashtag", "@user", e-mail addresses and URLs whole;
brackets as ``-lrb-`` ``-rrb-`` ``-lsb-`` ``-rsb-`` ``-lcb-`` ``-rcb-`` (pycocoevalcap's list
names them in upper case, so lower-cased they stay); curly quotes and apostrophes normalised,
then quotes, dashes, "...", ". , ? ! : ;" dropped; "€" as "$", "£" as "#", "¢" as "cents", "½"
as "1/2"; "$", "#", "%" and "&" split off. A caption holding a line break other than "\\n"
(such as "\\r") ends its line there, and every later caption of the call is read one line on,
as in pycocoevalcap.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass

#: pycocoevalcap's ``PUNCTUATIONS``: tokens dropped after tokenisation (compared lower-cased).
DROPPED = frozenset(
    ["''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-"]
    + [".", "?", "!", ",", ":", "-", "--", "...", ";"]
)


def _bmp_class(predicate: Callable[[str], bool]) -> str:
    """The BMP code points (no surrogates) where ``predicate`` holds, as the body of a regex set."""
    parts, start = [], None
    for cp in range(0x10001):
        inside = cp < 0x10000 and not 0xD800 <= cp <= 0xDFFF and predicate(chr(cp))
        if inside and start is None:
            start = cp
        elif not inside and start is not None:
            last = cp - 1
            parts.append(f"\\u{start:04x}" + (f"-\\u{last:04x}" if last > start else ""))
            start = None
    return "".join(parts)


_ALPHA = _bmp_class(str.isalpha)
_UPPER = _bmp_class(str.isupper)

# Building blocks. "L": a letter (soft hyphens and combining accents count as letters inside
# words); "A": a letter alone; "D": a decimal digit; apostrophes, straight and curly.
L = f"[{_ALPHA}\\u00ad\\u0300-\\u036f]"
A = f"[{_ALPHA}]"
D = r"\d"
UPPER = f"[{_UPPER}]"
APOS = r"(?:['\u0092\u2019]|(?i:&apos;))"
APOS_IN_WORD = r"(?:['`\u0091\u0092\u2018\u2019\u201b]|(?i:&apos;))"
SPACE = r"[ \t\u00a0\u2000-\u200a\u3000]"
NEWLINE = r"(?:\r\n|[\r\n\u2028\u2029\u000b\u000c\u0085])"
SPACE_OR_NEWLINE = f"(?:{SPACE}|{NEWLINE})"

WORD = f"{L}(?:{L}|{D})*(?:[.!?]{L}(?:{L}|{D})*)*"
CLITIC = f"{APOS}(?:[msdMSD]|(?i:re|ve|ll))"
BEFORE_NT = r"[A-Za-z\u00ad]*[A-MO-Za-mo-z]\u00ad*"
NT = f"(?i:n){APOS_IN_WORD}(?i:t)"
# Words with an apostrophe inside that stay whole ("o'neil", "ma'am", "'90s", "'em", "'n'").
APOSTROPHE_WORD = tuple(
    [
        f"{APOS}(?i:n){APOS}?",
        f"[lLdDjJ]{APOS}",
        f"(?i:dunkin|somethin|ol){APOS}",
        f"{APOS}(?i:em)",
        f"[A-HJ-XZn]{APOS_IN_WORD}{A}{A}{A}*",
        f"{APOS}[2-9]0(?i:s)",
        f"{APOS}(?i:till?)",
        f"{A}{A}*[aeiouyAEIOUY]{APOS_IN_WORD}[aeiouA-Z]{A}*",
        f"{APOS}(?i:cause)",
        r"(?i:cont'd\.?|'twas|nor'easter|c'mon|e'er|s'mores|ev'ry|li'l|nat'l)",
        f"(?i:o){APOS_IN_WORD}(?i:o)",
    ]
)
URL_FULL = r"(?i:https?)://[^ \t\n\f\r\"<>|(){}]+[^ \t\n\f\r\"<>|.!?(){},-]"
_URL_PATH = r"(?:/[^ \t\n\f\r\"<>|()]+[^ \t\n\f\r\"<>|.!?(){},-])?"
URL_LIKELY = (
    r"(?i:www)\.(?:[^ \t\n\f\r\"<>|.!?(){},]+\.)+[a-zA-Z]{2,4}" + _URL_PATH,
    r"(?:[^ \t\n\f\r\"`'<>|.!?(){},-_$]+\.)+(?i:com|net|org|edu)" + _URL_PATH,
)
EMAIL = (
    r"(?:(?i:&lt;)|<)?[a-zA-Z0-9][^ \t\n\f\r\"<>|()\u00a0{}]*@"
    r"(?:[^ \t\n\f\r\"<>|(){}.\u00a0]+\.)*[^ \t\n\f\r\"<>|(){}.\u00a0]+(?:(?i:&gt;)|>)?"
)
TWITTER = f"@[a-zA-Z_][a-zA-Z_0-9]*|#{L}+"
NUMBER = f"[-+]?(?:{D}*(?:[.:,\\u00ad\\u066b\\u066c]{D}+)+|{D}+)"
DATE = f"{D}{{1,2}}[-/]{D}{{1,2}}[-/]{D}{{2,4}}"
FRACTION = f"(?:{D}{{1,4}}[- \\u00a0])?{D}{{1,4}}(?:\\\\?/|\\u2044){D}{{1,4}}"
SUPERSCRIPT = (
    r"[\u207a\u207b\u208a\u208b]?(?:[\u2070\u00b9\u00b2\u00b3\u2074-\u2079]+|[\u2080-\u2089]+)"
)
SLASHED = r"[A-Za-z0-9]+(?:-[A-Za-z]+){0,2}(?:\\?/[A-Za-z0-9]+(?:-[A-Za-z]+){0,2}){1,2}"
SPECIAL = (
    r"(?i:-(?:rrb|lrb|rcb|lcb|rsb|lsb)-|c\.d\.s|pro-|anti-|s(?:&|&amp;)p-500|s(?:&|&amp;)ls"
    f"|cap{APOS}n|c{APOS}est)"
)
HYPHEN = r"[-_\u058a\u2010\u2011]"
PIECE = f"(?:[dDoOlL]{APOS_IN_WORD}(?:{A}|{D}))?(?:{A}|{D})+"
HYPHENATED = f"{PIECE}(?:{HYPHEN}{PIECE})*"
_ACRO_NAMED = r"(?i:(?:canada|sino|korean|eu|japan|non)-u\.s|u\.s\.-(?:u\.k|u\.s\.s\.r))"
ACRO = f"(?:{_ACRO_NAMED}|[A-Za-z](?:\\.[A-Za-z])*)"
ACRO2 = f"(?:{_ACRO_NAMED}|[A-Za-z](?:\\.[A-Za-z])+)"
NUMBER_HYPHENATED = f"[A-Za-z0-9][A-Za-z0-9.,\\u00ad]*(?:-(?:{ACRO2}\\.|[A-Za-z0-9\\u00ad]+))+"
CAPITALS_JOINED = r"[A-Z]+(?:(?:[+&]|(?i:&amp;))[A-Z]+)+"
FILE_EXTENSIONS = (
    "bat|bmp|c|class|cgi|cpp|dll|doc|docx|exe|gif|gz|h|htm|html|jar|java|jpeg|jpg|mov|mp3|pdf|php"
    "|pl|png|ppt|ps|py|sql|tar|txt|wav|x|xml|zip"
)
FILENAME = f"(?:{A}|{D}|\\u00ad|[\\u0300-\\u036f])+(?:\\.(?:{L}|{D})+)*\\.(?i:{FILE_EXTENSIONS})"
PHONE = (
    r"(?:(?:\([0-9]{2,3}\)[ \u00a0]?|(?:\+\+?)?(?:[0-9]{2,4}[- \u00a0])?[0-9]{2,4}[- \u00a0])"
    r"[0-9]{3,4}[- \u00a0]?[0-9]{3,5}"
    r"|(?:(?:\+\+?)?[0-9]{2,4}\.)?[0-9]{2,4}\.[0-9]{3,4}\.[0-9]{3,5})"
)
SMILEY = r"[<>]?[:;=][-o*']?[()DPdpO\\{@|\[\]]"
ASIAN_SMILEY = r"[-^x=~<>']_[-^x=~<>']|\([-^x=~<>'][_.]?[-^x=~<>']\)|\([\^x=~<>']-[\^x=~<>'`]\)"
TAG = (
    r"<(?:[!?][A-Za-z-][^>\r\n]*|[A-Za-z][A-Za-z0-9_:.-]*(?:[ ]+(?:[A-Za-z][A-Za-z0-9_:.-]*"
    r"|[A-Za-z][A-Za-z0-9_:.-]*[ ]*=[ ]*(?:'[^']*'|\"[^\"]*\")))*[ ]*/?"
    r"|/[A-Za-z][A-Za-z0-9_:.-]*)[ ]*>"
)
SYMBOL = (
    "[+%&~^|\\\\\u00a6\u00a7\u00a8\u00a9\u00ac\u00ae\u00af\u00b0-\u00b3\u00b4-\u00ba\u00d7\u00f7"
    "\u0387\u05be\u05c0\u05c3\u05c6\u05f3\u05f4\u0600-\u0603\u0606-\u060a\u060c\u0614\u061b"
    "\u061e\u066a\u066d\u0703-\u070d\u07f6-\u07f8\u0964\u0965\u0e4f\u1fbd\u2016\u2017"
    "\u2020-\u2023\u2030-\u2038\u203b\u203e-\u2042\u2044\u207a-\u207f\u208a-\u208e\u2100-\u214f"
    "\u2190-\u21ff\u2200-\u2bff\u3012\u30fb\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65]"
)
QUOTE_MARKS = (
    APOS,
    "''",
    "[`\u2018\u2019\u201a\u201b\u201c\u201d\u0091\u0092\u0093\u0094\u201e\u201f\u2039\u203a"
    "\u00ab\u00bb]{1,2}",
)
DOUBLE_QUOTE = r'(?:"|(?i:&quot;))'
SENTENCE_PUNCTUATION = r"[,;:\u3001]"

# Abbreviations whose period the tokenizer keeps (observed on stanford-corenlp 3.4.1): those
# usually followed by a lower-case word, those usually followed by a capitalised one, and those
# kept only before a number. "(?-i:X)" marks a first letter that must be a capital.
_STATES = (
    "ala|ariz|(?-i:A)z|(?-i:A)rk|calif|colo|conn|ct|dak|(?-i:D)el|fla|ga|(?-i:I)ll|ind|kans?|ky"
    "|(?-i:L)a|(?-i:M)ass|md|mich|minn|(?-i:M)iss|mo|mont|neb|nev|okla|(?-i:O)re|(?-i:P)a|penn"
    "|tenn|(?-i:T)ex|va|vt|(?-i:W)ash|wisc?|wyo"
)
ABBREVIATION_LOWER = (
    "(?i:jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec|mon|tue|tues|wed|thu|thurs|fri"
    f"|{_STATES}|inc|cos?|corp|pp?t(?-i:[ye])s?|ltd|plc|rt|bancorp|bhd|assn|univ|intl|sys"
    r"|tel|est|ext|sq|jr|sr|bros|(?:ed|ph)\.d|blvd|rd|esq|etc|al|seq|bldg)\."
)
_TITLES = (
    "mr|mrs|ms|(?-i:M)iss|drs?|profs?|sens?|reps?|attys?|lt|col|gen|messrs|govs?|adm|rev|maj"
    "|sgt|cpl|pvt|capt|ste?|ave|pres|lieut|hon|brig|co?mdr|pfc|spc|supts?|det|mt|ft|adj|adv"
    "|asst|assoc|ens|insp|mlle|mme|msgr|sfc"
)
ABBREVIATION_UPPER_WORD = (
    f"(?:(?i:{_TITLES}|vs|alex|wm|jos|cie|a\\.k\\.a|cf|treas|ph|invt|elec|natl"
    f"|m(?-i:[ft])g|dept)|{ACRO})"
)
ABBREVIATION_BEFORE_NUMBER = r"(?i:ca|figs?|prop|nos?|art|bldg|pp|op)\."
SENTENCE_STARTS = (
    "(?i:(?-i:A)bout|(?-i:A)ccording|(?-i:A)dditionally|(?-i:A)fter|(?-i:A)n|(?-i:A)|(?-i:A)s"
    "|(?-i:A)t|(?-i:B)ut|(?-i:E)arlier|(?-i:H)e|(?-i:H)er|(?-i:H)ere|(?-i:H)owever|(?-i:I)f"
    "|(?-i:I)n|(?-i:I)t|(?-i:L)ast|(?-i:M)any|(?-i:M)ore|(?-i:M)r\\.|(?-i:M)s\\.|(?-i:N)ow"
    "|(?-i:O)nce|(?-i:O)ne|(?-i:O)ther|(?-i:O)ur|(?-i:S)he|(?-i:S)ince|(?-i:S)o|(?-i:S)ome"
    "|(?-i:S)uch|(?-i:T)hat|(?-i:T)he|(?-i:T)heir|(?-i:T)hen|(?-i:T)here|(?-i:T)hese"
    "|(?-i:T)hey|(?-i:T)his|(?-i:W)e|(?-i:W)hen|(?-i:W)hile|(?-i:W)hat|(?-i:Y)et|(?-i:Y)ou)"
)

_SINGLE_QUOTES = {"\u0091": "`", "\u2018": "`", "\u201b": "`", "\u2039": "`"}
_SINGLE_QUOTES |= {"\u0092": "'", "\u2019": "'", "\u203a": "'"}
_DOUBLE_QUOTES = {"\u0093": "``", "\u201c": "``", "\u00ab": "``"}
_DOUBLE_QUOTES |= {"\u0094": "''", "\u201d": "''", "\u00bb": "''"}
_APOS_ENTITY = re.compile(r"&apos;|'", re.IGNORECASE)
_QUOT_ENTITY = re.compile(r'"|&quot;', re.IGNORECASE)


def _quotes(text: str, opening: bool) -> str:
    """PTB ("LaTeX") quotes: ` and `` open, ' and '' close; curly and angle quotes mapped alike."""
    text = _APOS_ENTITY.sub("`" if opening else "'", text)
    text = _QUOT_ENTITY.sub("``" if opening else "''", text)
    return "".join(_SINGLE_QUOTES.get(c) or _DOUBLE_QUOTES.get(c) or c for c in text)


_FRACTIONS = {"\u00bc": "1/4", "\u00bd": "1/2", "\u00be": "3/4", "\u2153": "1/3", "\u2154": "2/3"}
_CURRENCY = {"\u00a2": "cents", "\u00a3": "#", "\u0080": "$", "\u00a4": "$", "\u20a0": "$"}
_CURRENCY["\u20ac"] = "$"
_BRACKETS = {"(": "-LRB-", ")": "-RRB-", "{": "-LCB-", "}": "-RCB-", "[": "-LSB-", "]": "-RSB-"}
_AMP = re.compile("&amp;", re.IGNORECASE)


def _no_soft_hyphens(text: str) -> str:
    return text.replace("\u00ad", "") or "-"


def _parentheses(text: str) -> str:
    return text.replace("(", "-LRB-").replace(")", "-RRB-")


# What a kind does with the text it matched: its token, "\n" for a line break, or None to skip it.
Action = Callable[[str], "str | None"]


def _keep(text: str) -> str:
    return text


def _skip(text: str) -> None:
    return None


@dataclass(frozen=True)
class Kind:
    """One token kind: ``pattern`` is the token, ``context`` what must follow it (read, not taken).

    A tuple of patterns is a kind with alternatives, the longest of which counts (a regex
    alternation would take the first that fits).

    ``shorten``: the token is the match less its last characters, which are read again ("cannot"
    gives "can", then "not"). ``reread``: the token is the whole match and its last character is
    read again too ("etc." at a sentence end gives "etc." and "."). ``acronym``: a one-letter
    acronym gives up its period ("I." -> "I", then "."), a longer one rereads it.
    """

    pattern: str | tuple[str, ...]
    action: Action = _keep
    context: str | None = None
    shorten: int = 0
    reread: int = 0
    acronym: bool = False

    @property
    def alternatives(self) -> tuple[str, ...]:
        return (self.pattern,) if isinstance(self.pattern, str) else self.pattern


KINDS: tuple[Kind, ...] = (
    Kind(r"(?i:c\+\+)"),
    Kind(r"(?i:[cf]#)"),
    Kind(r"(?i:cannot)", shorten=3),
    Kind(r"(?i:'twas)", shorten=3),
    Kind(r"(?i:'tis)", shorten=2),
    Kind(r"(?i:gonna|gotta|lemme|gimme|wanna)", shorten=2),
    Kind(TAG, lambda t: t.replace(" ", "\u00a0")),
    Kind(r"(?i:&(?:md|mdash|ndash);)|[\u0096\u0097\u2013\u2014\u2015]", lambda t: "--"),
    Kind(r"(?i:&amp;)", lambda t: "&"),
    Kind(r"(?i:&(?:ht|tl|ur|lr|qc|ql|qr|odq|cdq|#[0-9]+);)"),
    Kind(WORD, _no_soft_hyphens, context=CLITIC),
    Kind(BEFORE_NT, _no_soft_hyphens, context=NT),
    Kind(WORD, _no_soft_hyphens),
    Kind(APOSTROPHE_WORD),
    Kind(f"(?i:y){APOS}", context=A),
    Kind(URL_FULL),
    Kind(URL_LIKELY),
    Kind(EMAIL),
    Kind(TWITTER),
    Kind(CLITIC, lambda t: _quotes(t, False), context="[^A-Za-z]"),
    Kind(NT, lambda t: _quotes(t, False), context="[^A-Za-z]"),
    Kind(DATE),
    Kind(NUMBER, _no_soft_hyphens),
    Kind(SUPERSCRIPT),
    Kind(FRACTION, lambda t: t.replace(" ", "\u00a0")),
    Kind(r"[\u00bc\u00bd\u00be\u2153-\u215e]", lambda t: _FRACTIONS.get(t, t)),
    Kind(SPECIAL, lambda t: _AMP.sub("&", t)),
    Kind(SLASHED),
    Kind(r"[A-Z]*\$|#"),
    Kind(
        "[\u00a2\u00a3\u00a4\u00a5\u0080\u20a0\u20ac\u060b\u0e3f\u20a4\uffe0\uffe1\uffe5\uffe6]",
        lambda t: _CURRENCY.get(t, t),
    ),
    Kind(
        f"{ACRO}\\.",
        context=f"{SPACE_OR_NEWLINE}+(?:{SENTENCE_STARTS}|{TAG}){SPACE_OR_NEWLINE}",
        acronym=True,
    ),
    Kind(ABBREVIATION_BEFORE_NUMBER, context=f"{SPACE_OR_NEWLINE}?{D}"),
    Kind(r"(?i:pt[ey]|co)\.", context=f"{SPACE}(?i:ltd|lim)"),
    Kind(
        ABBREVIATION_LOWER,
        context=f"{SPACE_OR_NEWLINE}(?:{SPACE_OR_NEWLINE}|{UPPER}|{TAG})",
        reread=1,
    ),
    Kind(ABBREVIATION_LOWER, context=r"[\s\S]{2}"),
    Kind(ABBREVIATION_LOWER, reread=1),
    Kind(f"{ABBREVIATION_UPPER_WORD}\\."),
    Kind(ABBREVIATION_UPPER_WORD, context=SPACE),
    Kind(ACRO, context=SPACE_OR_NEWLINE),
    Kind(f"{APOS}[0-9][0-9]", context=SPACE_OR_NEWLINE),
    Kind(FILENAME, context=f"{SPACE_OR_NEWLINE}|[.?!,]"),
    Kind(f"{WORD}\\.", _no_soft_hyphens, context=SENTENCE_PUNCTUATION),
    Kind(PHONE, lambda t: _parentheses(t.replace(" ", "\u00a0"))),
    Kind(DOUBLE_QUOTE, lambda t: _quotes(t, True), context="[A-Za-z0-9$]"),
    Kind(DOUBLE_QUOTE, lambda t: _quotes(t, False)),
    Kind("\u007f", _skip),
    Kind(r"<|(?i:&lt;)", lambda t: "<"),
    Kind(r">|(?i:&gt;)", lambda t: ">"),
    Kind(SMILEY, _parentheses, context="[^A-Za-z0-9]"),
    Kind(ASIAN_SMILEY, _parentheses),
    Kind(r"[{}\[\]()]", lambda t: _BRACKETS[t]),
    Kind(r"-+", lambda t: "--" if 3 <= len(t) <= 4 else t),
    Kind(r"\.{3,5}|(?:\.[ \u00a0]){2,4}\.|[\u0085\u2026]", lambda t: "..."),
    Kind(r"@+|#+|_+"),
    Kind(r"\*+|(?:\\\*){1,3}"),
    Kind(SENTENCE_PUNCTUATION),
    Kind(r"[?!]+"),
    Kind("[.\u00a1\u00bf\u037e\u0589\u061f\u06d4\u0700-\u0702\u07fa\u3002]"),
    Kind("="),
    Kind("/"),
    Kind(f"{NUMBER_HYPHENATED}\\.", _no_soft_hyphens, context=SENTENCE_PUNCTUATION),
    Kind(NUMBER_HYPHENATED, _no_soft_hyphens),
    Kind(f"{HYPHENATED}\\.", context=SENTENCE_PUNCTUATION),
    Kind(HYPHENATED),
    Kind(f"{CAPITALS_JOINED}\\.", lambda t: _AMP.sub("&", t), context=SENTENCE_PUNCTUATION),
    Kind(CAPITALS_JOINED, lambda t: _AMP.sub("&", t)),
    Kind("'", lambda t: _quotes(t, True), context="[A-Za-z][^ \t\n\r\u00a0]"),
    Kind(CLITIC, lambda t: _quotes(t, False)),
    Kind(NT, lambda t: _quotes(t, False)),
    Kind(QUOTE_MARKS, lambda t: _quotes(t, False)),
    Kind("<<|>>"),
    Kind(SYMBOL),
    Kind(f"\\x00|{SPACE}+|[\u200b\u200e\u200f\ufeff]", _skip),
    Kind(NEWLINE, lambda t: "\n"),
    Kind(r"(?i:&nbsp;)", _skip),
)
_ALTERNATIVES = [(kind, pattern) for kind in KINDS for pattern in kind.alternatives]


def _all_kinds_at_once() -> re.Pattern[str]:
    """One regex that tries every kind's alternatives at a position, each in a lookahead of its own.

    Group ``t{i}`` holds alternative i's token, ``c{i}`` the text it looks ahead at; an
    alternative that does not match leaves them empty. One call per position, not one per kind.
    """
    parts = []
    for i, (kind, pattern) in enumerate(_ALTERNATIVES):
        context = f"(?=(?P<c{i}>{kind.context}))" if kind.context else ""
        parts.append(f"(?:(?=(?P<t{i}>{pattern}){context})|)")
    return re.compile("".join(parts))


_ALL_KINDS = _all_kinds_at_once()
#: Per alternative: its kind and the group numbers of its token and its context (None: none).
_GROUPS = [
    (kind, _ALL_KINDS.groupindex[f"t{i}"], _ALL_KINDS.groupindex.get(f"c{i}"))
    for i, (kind, _) in enumerate(_ALTERNATIVES)
]


def _longest(text: str, position: int) -> tuple[Kind, int] | None:
    """The kind reading the most text at ``position`` (the earlier on a tie) and its token's end."""
    spans = _ALL_KINDS.match(text, position).regs
    best, best_length, token_end = None, 0, 0
    for kind, token_group, context_group in _GROUPS:
        end = spans[token_group][1]
        if end < 0:
            continue
        length = end - position
        if context_group is not None:
            length += spans[context_group][1] - end
        if length > best_length:
            best, best_length, token_end = kind, length, end
    return (best, token_end) if best is not None else None


_SPACES = re.compile(f"{SPACE}+")
#: ASCII letters before a space or a line end are one token whatever the kinds, but for these.
_PLAIN_WORD = re.compile(r"[A-Za-z]+(?=[ \t\n]|\Z)")
_SPLIT_WORDS = frozenset({"cannot", "gonna", "gotta", "lemme", "gimme", "wanna"})


def _utf16_units(text: str) -> str:
    """``text`` with every character beyond U+FFFF written as its two UTF-16 surrogates."""
    out = []
    for char in text:
        cp = ord(char)
        if cp > 0xFFFF:
            cp -= 0x10000
            out.append(chr(0xD800 + (cp >> 10)) + chr(0xDC00 + (cp & 0x3FF)))
        else:
            out.append(char)
    return "".join(out)


def _from_utf16_units(text: str) -> str:
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def ptb_lines(text: str) -> list[list[str]]:
    """The PTB tokens of ``text``, one list per line of output, before lower-casing and dropping."""
    text = _utf16_units(text)
    lines: list[list[str]] = [[]]
    position, end = 0, len(text)
    while position < end:
        spaces = _SPACES.match(text, position)
        if spaces:  # no token starts with a space: skipped at once
            position = spaces.end()
            continue
        plain = _PLAIN_WORD.match(text, position)
        if plain and plain.group().lower() not in _SPLIT_WORDS:  # the common case, read at once
            lines[-1].append(plain.group())
            position = plain.end()
            continue
        found = _longest(text, position)
        if found is None:  # nothing matches: the character is dropped
            position += 1
            continue
        best, token_end = found
        matched = text[position:token_end]
        if best.acronym:
            shorten, reread = (1, 0) if len(matched) == 2 else (0, 1)
        else:
            shorten, reread = best.shorten, best.reread
        token = best.action(matched[: len(matched) - shorten])
        position += len(matched) - shorten - reread
        if token == "\n":
            lines.append([])
        elif token is not None:
            lines[-1].append(_from_utf16_units(token))
    return lines


# Java lower-cases a capital sigma as final ("ς") when a cased letter precedes it and none
# follows it within its word, words as Java's word BreakIterator cuts them (seen on Java 17):
# letters joined by one of MID_WORD, digits by one of MID_NUMBER, numbers and words run together,
# a number may end in one of AFTER_NUMBER and start after one of BEFORE_NUMBER; combining marks
# and zero-width characters belong to the character before them; anything else stands alone.
MID_WORD = frozenset("\u00ad\u2027\"'.")
MID_NUMBER = frozenset("\"',\u066b.")
AFTER_NUMBER = frozenset("%&\u00a2\u066a\u2030\u2031")
BEFORE_NUMBER = frozenset("#.^\u00a2")
_KANA_KANJI = re.compile("[\u3005\u3041-\u309e\u30a1-\u30fe\u4e00-\u9fa5\uf900-\ufa2d]")


def _is_letter(char: str) -> bool:
    category = unicodedata.category(char)
    return (category[0] == "L" or category == "Mc") and not _KANA_KANJI.match(char)


def _is_digit(char: str) -> bool:
    return unicodedata.category(char)[0] == "N"


def _is_mid_word(char: str) -> bool:
    return char in MID_WORD or unicodedata.category(char) in ("Pd", "Pc")


def _run(text: str, i: int, member: Callable[[str], bool], joiner: Callable[[str], bool]) -> int:
    """End of the run of ``member`` characters from ``i``, single ``joiner`` s allowed inside."""
    if i >= len(text) or not member(text[i]):
        return i
    while i < len(text) and member(text[i]):
        i += 1
        if i + 1 < len(text) and joiner(text[i]) and member(text[i + 1]):
            i += 1
    return i


def _word_end(text: str, i: int) -> int:
    """End of the word (as Java cuts words) that starts at ``i``."""
    start, end = i, _run(text, i, _is_letter, _is_mid_word)
    if (
        start < len(text)
        and text[start] in BEFORE_NUMBER
        or unicodedata.category(text[start]) == "Sc"
    ):
        end = max(end, start + 1)
        i = start + 1
    else:
        i = end
    while True:
        number_end = _run(text, i, _is_digit, lambda c: c in MID_NUMBER)
        if number_end == i:
            return max(end, i)
        word_end = _run(text, number_end, _is_letter, _is_mid_word)
        if word_end == number_end:
            return number_end + (number_end < len(text) and text[number_end] in AFTER_NUMBER)
        i = end = word_end


def _words(text: str) -> list[tuple[int, int]]:
    """``text`` cut into words as Java's word BreakIterator does (marks kept with what precedes)."""
    kept = [i for i, c in enumerate(text) if not _transparent(c)]
    bare = "".join(text[i] for i in kept)
    spans, i = [], 0
    while i < len(bare):
        end = max(i + 1, _word_end(bare, i))
        spans.append((kept[i], kept[end - 1] + 1))
        i = end
    return spans


def _transparent(char: str) -> bool:
    return (
        unicodedata.category(char) in ("Mn", "Me") or char in "\u200b\u200c\u200d\u200e\u200f\ufeff"
    )


def _cased(char: str) -> bool:
    return char.isupper() or char.islower() or char.istitle()


def java_lower(token: str) -> str:
    """``token.lower()`` as Java's ``String.toLowerCase`` gives it (they differ on final sigma)."""
    if "\u03a3" not in token:
        return token.lower()
    final = set()
    for start, end in _words(token):
        for i in range(start, end):
            if token[i] == "\u03a3" and i > start:
                before = any(_cased(c) for c in token[start:i])
                if before and not any(_cased(c) for c in token[i + 1 : end]):
                    final.add(i)
    return "".join(
        ("\u03c2" if i in final else "\u03c3") if c == "\u03a3" else c.lower()
        for i, c in enumerate(token)
    )


def _caption_tokens(line: Sequence[str]) -> list[str]:
    """One output line as CIDEr reads it: lower-cased, punctuation dropped, split at white space."""
    kept = [java_lower(token) for token in line]
    return [word for token in kept if token not in DROPPED for word in token.split()]


def tokenize_captions(captions: Sequence[str]) -> list[list[str]]:
    """Each caption's tokens as one call of pycocoevalcap's ``PTBTokenizer.tokenize`` gives them."""
    lines = ptb_lines("\n".join(c.replace("\n", " ") for c in captions))
    # A "\r" in a caption makes more lines than captions: the last ones are dropped, as there.
    return [_caption_tokens(line) for line, _ in zip(lines, captions, strict=False)]


def tokenize(caption: str) -> list[str]:
    """One caption's tokens, tokenised alone."""
    return tokenize_captions([caption])[0]
