"""Metrics against their references: generated cases scored by the published code; quirks by name.

``tests/data/metric_references.json.gz`` holds cases whose scores come from running each
metric's reference (``docs/datasets.md`` names it: repository, file, function, commit) in a
scratch directory; ``cider_pycocoevalcap.json.gz`` the same for CIDEr-D and its tokenizer.
"""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import pytest

from vlmprune.metrics import CORPUS_METRICS, METRICS, get_metric, known_metrics, score_all
from vlmprune.metrics.choice import parse_mmmu_choice, parse_mmmu_open, select_option
from vlmprune.metrics.cider import cider
from vlmprune.metrics.ptb import java_lower, tokenize, tokenize_captions
from vlmprune.metrics.vqa import normalize_answer

DATA = Path(__file__).parent / "data"


def read_gzip_json(name: str) -> dict:
    with gzip.open(DATA / name, "rt", encoding="utf-8") as f:
        return json.load(f)


REFERENCES = read_gzip_json("metric_references.json.gz")


def score(metric: str, case: dict) -> float:
    return METRICS[metric](case["prediction"], case["answers"], choices=case.get("choices", ()))


# --- every metric equals its reference on the generated cases ---------------------------------


@pytest.mark.parametrize("metric", sorted(REFERENCES["cases"]))
def test_metric_equals_its_reference_on_generated_cases(metric: str) -> None:
    cases = REFERENCES["cases"][metric]
    differ = [(case, score(metric, case)) for case in cases if score(metric, case) != case["score"]]
    assert len(cases) >= 30 and differ == []


#: Where the reference raises instead of scoring, what the project gives: no reference at all
#: (``max`` of nothing, or the official VQA script's division by zero) scores 0; a prediction and
#: a reference both empty (Molmo's ANLS divides by zero) are equal, so 1.
PROJECT_SCORE_WHERE_REFERENCE_RAISES = {"ValueError": 0.0, "ZeroDivisionError": 1.0}


@pytest.mark.parametrize(
    "metric", sorted(m for m, c in REFERENCES["reference_raises"].items() if c)
)
def test_what_the_project_gives_where_the_reference_raises(metric: str) -> None:
    for case in REFERENCES["reference_raises"][metric]:
        expected = PROJECT_SCORE_WHERE_REFERENCE_RAISES[case["error"]]
        if metric == "vqa_official":  # its ZeroDivisionError is the no-reference case
            expected = 0.0
        assert score(metric, case) == expected, case


def test_known_metrics_come_from_the_registries() -> None:
    assert known_metrics() == sorted([*METRICS, *CORPUS_METRICS])
    assert {"vqa_normalised", "anls_rrc", "mc_lenient", "count_exact_match"} <= set(known_metrics())


# --- VQA normalisation ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("Two", "2"),  # number words
        ("ten", "10"),
        ("none", "0"),  # "none" is a count
        ("1,000", "1000"),  # a comma inside a number is dropped, not spaced
        ("3.5", "3.5"),  # a period before a digit stays
        ("yes.", "yes"),  # other periods go
        ("red/white", "red white"),  # a mark between words becomes a space
        ("left - right", "left right"),  # a mark next to a space is deleted
        ("A dog!", "dog"),  # articles and punctuation
        ("dont", "don't"),  # contractions
        # The official table as published: its capitalised keys never match lower-cased words ...
        ("Im", "im"),
        ("Ive got it", "ive got it"),
        # ... and its odd entries are kept.
        ("somebody'd", "somebodyd"),
        ("yall'll", "y'all'll"),
        ("  Yes\n", "yes"),
        # At most 32 periods are removed (the script passes re.UNICODE, 32, as re.sub's count).
        ("a" + "." * 40, "a" + "." * 8),
    ],
)
def test_vqa_normalisation(raw: str, normal: str) -> None:
    assert normalize_answer(raw) == normal


# --- VQA accuracy ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("agreeing", "official", "molmo"),
    [(0, 0.0, 0.0), (1, 0.3, 1 / 3), (2, 0.6, 2 / 3), (3, 0.9, 1.0), (4, 1.0, 1.0), (9, 1.0, 1.0)],
)
def test_vqa_accuracy_by_number_of_agreeing_annotators(
    agreeing: int, official: float, molmo: float
) -> None:
    answers = ["2"] * agreeing + ["3"] * (10 - agreeing)
    assert METRICS["vqa_official"]("two", answers) == pytest.approx(official)
    assert METRICS["vqa_normalised"]("two", answers) == pytest.approx(official)
    assert METRICS["vqa_molmo"]("two", answers) == pytest.approx(molmo)


def test_vqa_official_compares_unanimous_answers_unprocessed() -> None:
    # The class 1: ten equal answers are compared with the prediction as they are.
    assert METRICS["vqa_official"]("two", ["2"] * 10) == 0.0
    assert METRICS["vqa_official"]("Yes", ["yes"] * 10) == 0.0
    assert METRICS["vqa_official"]("yes.", ["yes"] * 10) == 0.0
    assert METRICS["vqa_official"](" yes\n", ["yes"] * 10) == 1.0  # outer white space goes first
    assert METRICS["vqa_official"]("Yes", ["yes"] * 9 + ["no"]) == 1.0  # disagreement: normalised
    # The departure normalises always; Molmo's score too.
    assert METRICS["vqa_normalised"]("two", ["2"] * 10) == 1.0
    assert METRICS["vqa_molmo"]("Yes", ["yes"] * 10) == 1.0


def test_vqa_single_reference() -> None:
    # No other annotator to agree with: 0 officially; the departure reads it as exact match.
    assert METRICS["vqa_official"]("cat", ["cat"]) == 0.0
    assert METRICS["vqa_normalised"]("Cat.", ["cat"]) == 1.0
    assert METRICS["vqa_official"]("cat", []) == 0.0


@pytest.mark.parametrize(
    ("prediction", "answers", "score"),
    [("two", ["2"], 1.0), ("There are 2.", ["2"], 1.0), ("no", ["0"], 1.0), ("3", ["2"], 0.0)],
)
def test_count_exact_match(prediction: str, answers: list[str], score: float) -> None:
    assert METRICS["count_exact_match"](prediction, answers) == score


def test_exact_match_is_molmos_em() -> None:
    # TallyQA's reference: the lower-cased prediction among the lower-cased answers, spaces kept.
    assert METRICS["exact_match"]("Two", ["two"]) == 1.0
    assert METRICS["exact_match"]("two", ["2"]) == 0.0
    assert METRICS["exact_match"](" 2", ["2"]) == 0.0
    assert METRICS["exact_match"]("There are 2.", ["2"]) == 0.0


# --- ANLS and relaxed correctness -----------------------------------------------------------


@pytest.mark.parametrize(
    ("prediction", "answers", "anls", "anls_rrc"),
    [
        ("Acme Corp", ["acme corp"], 1.0, 1.0),  # case-insensitive
        ("  acme   corp ", ["acme corp"], 1 - 5 / 14, 1.0),  # white space: counts / collapsed
        ("abcdefghij", ["abcdefghxy"], 0.8, 0.8),  # NL 0.2
        ("abcdefghij", ["abcdexxxxx"], 0.0, 0.5),  # NL exactly 0.5: 0 in Molmo's, kept by the RRC's
        ("abcd", ["wxyz", "abce"], 0.75, 0.75),  # the best reference counts
        ("\u0130", ["i\u0307"], 1.0, 1.0),  # lower-cased "İ" is "i" + dot: distance 0, length 2
        ("", [""], 1.0, 1.0),
        ("x", [], 0.0, 0.0),
    ],
)
def test_anls(prediction: str, answers: list[str], anls: float, anls_rrc: float) -> None:
    assert METRICS["anls"](prediction, answers) == pytest.approx(anls)
    assert METRICS["anls_rrc"](prediction, answers) == pytest.approx(anls_rrc)


@pytest.mark.parametrize(
    ("prediction", "answers", "score"),
    [
        ("104", ["100"], 1.0),  # within 5%
        ("106", ["100"], 0.0),
        ("45%", ["0.45"], 1.0),  # percentages are divided by 100 ...
        ("45%%", ["0.45"], 1.0),  # ... every trailing "%" removed
        ("45%", ["45"], 0.0),
        (" 104", ["100"], 1.0),  # float() reads outer white space
        ("Yes ", ["yes"], 0.0),  # text matches keep it
        ("0.0", ["0"], 0.0),  # a zero reference needs an exact match
        ("1,000", ["1000"], 0.0),  # no thousands separators in float parsing
        ("1_000", ["1000"], 1.0),  # but Python's digit grouping
    ],
)
def test_relaxed_correctness(prediction: str, answers: list[str], score: float) -> None:
    assert METRICS["relaxed_correctness"](prediction, answers) == score


# --- multiple choice ------------------------------------------------------------------------

OPTIONS = ["a cat", "a dog", "a dog and a cat"]


@pytest.mark.parametrize(
    ("prediction", "letter", "score"),
    [
        ("B", "B", 1.0),
        (" b ", "B", 1.0),  # lower-cased and stripped
        ("B.", "B", 1.0),  # one edit from "b"
        ("(B)", "B", 1.0),  # two edits from "b", three from the other letters
        ("B,", "B", 1.0),
        ("The answer is B", "B", 0.0),  # "a" occurs in it first: A
        ("a dog", "B", 0.0),  # option text is read by its letters: "a" is nearest
        ("E", "A", 1.0),  # an out-of-range letter: every letter one edit away, the first
        ("", "A", 1.0),  # contained in every letter: the nearest, the first
    ],
)
def test_mc_reads_letters_as_molmo_does(prediction: str, letter: str, score: float) -> None:
    assert METRICS["mc"](prediction, [letter], choices=OPTIONS) == score


def test_mc_offers_at_most_seven_letters_and_needs_a_letter_reference() -> None:
    options = [f"option {i}" for i in range(9)]
    assert METRICS["mc"]("H", ["A"], choices=options) == 1.0  # no H: nearest letter, the first
    assert METRICS["mc"]("G", ["G"], choices=options) == 1.0
    assert METRICS["mc"]("H", ["H"], choices=options) == 0.0  # beyond G: never picked
    with pytest.raises(ValueError, match="letter"):
        METRICS["mc"]("A", ["a cat"], choices=OPTIONS)
    with pytest.raises(ValueError, match="choices"):
        METRICS["mc"]("A", ["A"])


@pytest.mark.parametrize(
    ("prediction", "index"),
    [
        ("B", 1),
        ("(C)", 2),
        ("C.", 2),
        ("B. a dog", 1),
        ("The answer is C", 2),
        ("A dog.", 1),  # option text wins over the letter reading
        ("dog and", 2),  # part of exactly one option
        ("a dgo", 1),  # nearest option
        ("E", 0),  # out-of-range letter, in no option: nearest option (first of a tie)
        ("b", 1),
    ],
)
def test_mc_lenient_reads_free_text(prediction: str, index: int) -> None:
    assert select_option(prediction, OPTIONS) == index
    assert METRICS["mc_lenient"](prediction, ["ABC"[index]], choices=OPTIONS) == 1.0


# --- MMMU -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("response", "letter"),
    [
        ("B", "B"),
        ("(C)", "C"),
        ("The answer is (A).", "A"),
        ("I think it is B or maybe D", "D"),  # several: the last mentioned
        ("After reading the image carefully the one shown is mitochondria", "C"),
        # ", . ! ? ; : '" are stripped one after another: "." before "!", "!" before "?".
        ("B!.", "B"),
        ("B?!", "B"),
        ("B.!", None),
        ("B!?", None),
        ("no idea", None),
    ],
)
def test_mmmu_choice_parsing(response: str, letter: str | None) -> None:
    assert parse_mmmu_choice(response, ["nucleus", "ribosome", "mitochondria", "golgi"]) == letter


def test_mmmu_random_pick_scores_its_expected_value() -> None:
    options = ["w", "x", "y", "z"]
    assert METRICS["mmmu"]("no idea", ["B"], choices=options) == 0.25
    assert METRICS["mmmu"]("B!?", ["B"], choices=options) == 0.25
    assert METRICS["mmmu"]("no idea", ["B"], choices=["w", "", "x"]) == 0.5  # empty options dropped
    assert METRICS["mmmu"]("(A)", ["A"], choices=["C", "A", "B", "D"]) == 1.0  # letters, not texts
    assert METRICS["mmmu"]("(A)", ["photosynthesis"], choices=["C", "A"]) == 0.0


@pytest.mark.parametrize(
    ("response", "parsed"),
    [
        ("The answer is 5cm", ["5cm"]),  # no number inside a word
        ("The answer is 1,000kg", ["1,000kg"]),
        ("The answer is 5 cm", [5.0, "5 cm"]),
        ("so it is 3.5cm", [3.5, "3.5cm"]),
    ],
)
def test_mmmu_open_numbers_are_whole_tokens(response: str, parsed: list) -> None:
    assert sorted(map(str, parse_mmmu_open(response))) == sorted(map(str, parsed))


def test_mmmu_open_scoring() -> None:
    assert METRICS["mmmu"]("So the result is 3.14159", ["3.14"]) == 1.0
    assert METRICS["mmmu"]("The total is 1,200 dollars", ["1200"]) == 1.0
    assert METRICS["mmmu"]("Therefore the answer is photosynthesis", ["Photosynthesis"]) == 1.0
    assert METRICS["mmmu"]("the answer is 7", ["8"]) == 0.0


# --- CIDEr-D on raw captions ------------------------------------------------------------------

PYCOCOEVALCAP = read_gzip_json("cider_pycocoevalcap.json.gz")


def test_ptb_tokens_equal_pycocoevalcaps_on_generated_captions() -> None:
    captions = differ = 0
    for corpus in PYCOCOEVALCAP["corpora"]:
        images = corpus["images"]
        references = [r for image in images for r in image["references"]]
        expected = [t.split() for tokens in corpus["tokens"]["references"] for t in tokens]
        expected += [t.split() for t in corpus["tokens"]["candidates"]]
        got = tokenize_captions(references) + tokenize_captions([i["candidate"] for i in images])
        captions += len(got)
        differ += sum(g != e for g, e in zip(got, expected, strict=True))
    assert captions >= 2000 and differ == 0


def test_cider_on_raw_captions_equals_pycocoevalcap() -> None:
    for corpus in PYCOCOEVALCAP["corpora"]:
        images = corpus["images"]
        total, per_image = cider(
            [i["candidate"] for i in images], [i["references"] for i in images]
        )
        assert total == pytest.approx(corpus["corpus"], rel=0, abs=1e-9)
        assert per_image == pytest.approx(corpus["per_image"], rel=0, abs=1e-9)


@pytest.mark.parametrize(
    ("caption", "tokens"),
    [
        ("A man's dog.", "a man 's dog"),
        ("a 3.5-inch black-and-white photo", "a 3.5-inch black-and-white photo"),
        ("He can't; she won't", "he ca n't she wo n't"),
        ("a can't-miss show", "a ca n't miss show"),  # clitics split inside hyphenated words
        ("gonna wanna cannot", "gon na wan na can not"),
        ("Mr. Smith and Dr. Who at St. Louis, etc.", "mr. smith and dr. who at st. louis etc."),
        ("at 5 p.m. in the U.S.", "at 5 p.m. in the u.s."),
        ("A. The end", "a the end"),  # a one-letter acronym before a sentence start
        ("\u201cit\u2019s\u201d", "it 's"),  # curly quotes and apostrophes normalised
        ("a dog \u2014 a cat \U0001f436", "a dog a cat"),  # dashes and emoji dropped
        ("#hashtag @user", "#hashtag @user"),
        ("a laptop (open)", "a laptop -lrb- open -rrb-"),  # lower-cased bracket tokens stay
        ("a $5 bill, 50% off, \u00bd \u20ac3", "a $ 5 bill 50 % off 1/2 $ 3"),
    ],
)
def test_ptb_tokenizer_cases(caption: str, tokens: str) -> None:
    # Expected tokens: pycocoevalcap 1.2's PTBTokenizer (stanford-corenlp 3.4.1) on these captions.
    assert " ".join(tokenize(caption)) == tokens


def test_ptb_tokenizer_reads_neighbouring_captions_and_line_breaks() -> None:
    # One call reads every caption as a line: "A." before a line starting "The" loses its period,
    # and a "\r" inside a caption ends its line, so the next caption reads the rest.
    assert tokenize_captions(["a big A.", "The dog"]) == [["a", "big", "a"], ["the", "dog"]]
    assert tokenize_captions(["a big A.", "the dog"]) == [["a", "big", "a."], ["the", "dog"]]
    assert tokenize_captions(["one\rtwo", "three"]) == [["one"], ["two"]]


def test_java_lower_case_final_sigma() -> None:
    assert java_lower("\u039f\u0394\u039f\u03a3") == "\u03bf\u03b4\u03bf\u03c2"
    assert java_lower("\u03a3\u0391\u03a3-a") == "\u03c3\u03b1\u03c3-a"  # Python: final sigma
    assert java_lower("a\u03a3:a") == "a\u03c2:a"  # Python: not final


def test_cider_hand_computed_partial_match() -> None:
    # Two images, one reference each, no shared n-grams; weight of every n-gram is log 2.
    # Unigrams: (log2 * log2) / (sqrt2 log2)^2 = 0.5; no higher n-gram matches; equal lengths.
    _, scores = cider(["x q", "z w"], [["x y"], ["z w"]])
    assert scores[0] == pytest.approx(1.25)


def test_cider_length_penalty_and_clipping() -> None:
    refs = [["a b c d"], ["e f g h"]]
    _, scores = cider(["a b c d a b c d", "e f g h"], refs)
    # Counts clipped to the reference's; per n, with w = log 2: 1-grams 4w^2 / (4w * 2w) = 1/2,
    # 2-grams 3 / (sqrt13 sqrt3), 3-grams 2 / (sqrt10 sqrt2), 4-grams 1 / sqrt7; lengths (bigram
    # counts, as pycocoevalcap counts them) 7 and 3: penalty exp(-16 / 72).
    per_n = [0.5, 3 / math.sqrt(39), 2 / math.sqrt(20), 1 / math.sqrt(7)]
    assert scores[0] == pytest.approx(10 * math.exp(-16 / 72) * sum(per_n) / 4)
    assert scores[1] == pytest.approx(10.0)


def test_cider_validation_and_registry() -> None:
    with pytest.raises(ValueError):
        cider(["a"], [])
    with pytest.raises(ValueError):
        cider(["a"], [[]])
    assert CORPUS_METRICS["cider"] is cider
    with pytest.raises(KeyError, match="corpus-level"):
        get_metric("cider")


def test_score_all_dispatches_per_sample_and_corpus_metrics() -> None:
    mean, scores = score_all("exact_match", ["yes", "no"], [["yes"], ["yes"]])
    assert (mean, scores) == (0.5, [1.0, 0.0])
    mean, _ = score_all("mc", ["B"], [["B"]], choices=[OPTIONS])
    assert mean == 1.0
    references = [["a man rides a red bicycle"], ["two dogs play"], ["a plate of pasta"]]
    mean, scores = score_all("cider", ["a man rides a red bicycle", "x", "y"], references)
    assert scores[0] == pytest.approx(10.0) and mean == pytest.approx(10.0 / 3)


def test_docs_name_a_reference_with_its_commit_for_every_seed_dataset() -> None:
    from vlmprune.data.registry import SEED_DATASETS

    docs = (Path(__file__).parents[1] / "docs" / "datasets.md").read_text()
    table = docs.split("## References", 1)[1].split("## Metrics", 1)[0]
    rows = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`"):
            for name in cells[0].replace("`", "").split(", "):
                rows[name] = (cells[1].strip("`"), cells[2])
    for spec in SEED_DATASETS:
        metric, reference = rows[spec.name]
        assert metric == spec.metric, spec.name
        assert reference.count(" · ") >= 3, spec.name  # repository · file · function · commit
