"""Metric test vectors: answer normalisation, annotator agreement, ANLS, relaxed correctness, choices, MMMU, CIDEr-D."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from vlmprune.metrics import CORPUS_METRICS, METRICS, get_metric, score_all
from vlmprune.metrics.choice import answer_index, parse_mmmu_choice, parse_mmmu_open, select_option
from vlmprune.metrics.cider import cider, tokenize
from vlmprune.metrics.vqa import normalize_answer

# --- VQA normalisation ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("Two", "2"),  # number words
        ("ten", "10"),
        ("none", "0"),  # "none" is a count
        ("zero", "0"),
        ("1,000", "1000"),  # a comma inside a number is dropped, not spaced
        ("3.5", "3.5"),  # a period before a digit stays
        ("yes.", "yes"),  # other periods go
        ("red/white", "red white"),  # a mark between words becomes a space
        ("left - right", "left right"),  # a mark next to a space is deleted
        ("A dog!", "dog"),  # articles and punctuation
        ("the Eiffel tower", "eiffel tower"),
        ("dont", "don't"),  # contractions
        ("isnt", "isn't"),
        ("couldnt've", "couldn't've"),
        ("its", "its"),  # words that look like contractions are left alone
        # The official table as published (values from running vqaEval.py's processPunctuation and
        # processDigitArticle): its capitalised keys never match lower-cased words ...
        ("Im", "im"),
        ("ive", "ive"),
        ("shes", "shes"),
        ("Ive got it", "ive got it"),
        # ... and its odd entries are kept.
        ("somebody'd", "somebodyd"),
        ("yall'll", "y'all'll"),
        ("Dont", "don't"),
        ("whats", "what's"),
        ("  Yes\n", "yes"),
    ],
)
def test_vqa_normalisation(raw: str, normal: str) -> None:
    assert normalize_answer(raw) == normal


# --- VQA accuracy ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("agreeing", "official", "molmo"),
    [(0, 0.0, 0.0), (1, 0.3, 1 / 3), (2, 0.6, 2 / 3), (3, 0.9, 1.0), (4, 1.0, 1.0), (10, 1.0, 1.0)],
)
def test_vqa_accuracy_by_number_of_agreeing_annotators(
    agreeing: int, official: float, molmo: float
) -> None:
    answers = ["2"] * agreeing + ["3"] * (10 - agreeing)
    assert METRICS["vqa_official"]("two", answers) == pytest.approx(official)
    assert METRICS["vqa_molmo"]("two", answers) == pytest.approx(molmo)


def test_vqa_accuracy_normalises_references_and_prediction() -> None:
    answers = ["1,000"] * 3 + ["one thousand"] * 7
    assert METRICS["vqa_official"]("1000.", answers) == pytest.approx(0.9)
    assert METRICS["vqa_official"]("None", ["0"] * 10) == 1.0
    assert METRICS["vqa_molmo"]("A Dog", ["dog", "dog", "the dog"]) == 1.0


def test_vqa_scores_use_the_official_contraction_table() -> None:
    # "im" is not in the official table (only "Im", which never matches lower-cased text), so
    # it does not equal "i'm"; the former table mapped it and scored 1.0 here.
    answers = ["i'm"] * 10
    assert METRICS["vqa_official"]("im", answers) == 0.0
    assert METRICS["vqa_molmo"]("im", answers) == 0.0
    assert METRICS["vqa_molmo"]("dont", ["don't"] * 3) == 1.0


def test_vqa_official_edge_cases() -> None:
    assert METRICS["vqa_official"]("cat", []) == 0.0
    assert METRICS["vqa_official"]("Cat.", ["cat"]) == 1.0  # one reference: normalised exact match


@pytest.mark.parametrize(
    ("prediction", "answers", "score"),
    [
        ("two", ["2"], 1.0),
        ("There are 2.", ["2"], 1.0),
        ("none", ["0"], 1.0),
        ("no", ["0"], 1.0),
        ("3", ["2"], 0.0),
        ("twelve", ["12"], 1.0),
    ],
)
def test_count_exact_match(prediction: str, answers: list[str], score: float) -> None:
    assert METRICS["count_exact_match"](prediction, answers) == score


def test_exact_match() -> None:
    assert METRICS["exact_match"](" Yes ", ["yes", "1"]) == 1.0
    assert METRICS["exact_match"]("yes.", ["yes"]) == 0.0


# --- ANLS -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prediction", "answers", "score"),
    [
        ("Acme Corp", ["acme corp"], 1.0),  # case-insensitive
        ("  acme   corp ", ["acme corp"], 1.0),  # outer white space stripped, inner collapsed
        ("abcdefghij", ["abcdefghxy"], 0.8),  # NL 0.2
        ("abcdefghij", ["abcdexxxxx"], 0.0),  # NL exactly 0.5: at the threshold scores 0
        ("abcdefghijk", ["abcdefxxxxx"], pytest.approx(6 / 11)),  # NL 5/11 < 0.5: just inside
        ("abcd", ["wxyz", "abce"], 0.75),  # the best reference counts
        ("", [""], 1.0),
        ("x", [], 0.0),
    ],
)
def test_anls(prediction: str, answers: list[str], score: float) -> None:
    assert METRICS["anls"](prediction, answers) == score


# --- relaxed correctness --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prediction", "answers", "score"),
    [
        ("104", ["100"], 1.0),  # within 5%
        ("105", ["100"], 1.0),  # exactly 5%
        ("106", ["100"], 0.0),
        ("45%", ["0.45"], 1.0),  # percentages are divided by 100
        ("46%", ["45%"], 1.0),
        ("45%", ["45"], 0.0),  # ... as in pix2struct and Molmo
        ("0.0", ["0"], 0.0),  # a zero reference needs an exact match
        ("0", ["0"], 1.0),
        ("Yes", ["yes"], 1.0),  # text: case-insensitive exact
        ("1,000", ["1000"], 0.0),  # no thousands separators in float parsing
        ("12", ["wrong", "12.3"], 1.0),
    ],
)
def test_relaxed_correctness(prediction: str, answers: list[str], score: float) -> None:
    assert METRICS["relaxed_correctness"](prediction, answers) == score


# --- multiple choice ------------------------------------------------------------------------

OPTIONS = ["a cat", "a dog", "a dog and a cat"]


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
        (
            "E",
            0,
        ),  # out-of-range letter, in no option: nearest option by edit distance (first of a tie)
        ("b", 1),  # a letter alone is read case-insensitively
        ("(c)", 2),
        ("B.", 1),
        ("c)", 2),
    ],
)
def test_select_option(prediction: str, index: int) -> None:
    assert select_option(prediction, OPTIONS) == index


def test_mc_scores_against_text_or_letter_reference() -> None:
    assert METRICS["mc"]("B", ["a dog"], choices=OPTIONS) == 1.0
    assert METRICS["mc"]("a dog", ["B"], choices=OPTIONS) == 1.0
    assert METRICS["mc"]("A", ["a dog"], choices=OPTIONS) == 0.0
    with pytest.raises(ValueError, match="choices"):
        METRICS["mc"]("A", ["a dog"])


def test_mc_reads_a_letter_before_option_texts() -> None:
    # The case: "A" with options [B, A, C] is the letter A (option 0), not the option whose text is "A".
    letters = ["B", "A", "C"]
    assert select_option("A", letters) == 0
    assert select_option("a", letters) == 0
    assert METRICS["mc"]("A", ["B"], choices=letters) == 1.0
    assert METRICS["mc"]("A", ["A"], choices=letters) == 0.0


def test_mc_reference_is_found_by_exact_text_first() -> None:
    # "ff" with options [Ff, ff] is option 1 (exact), not option 0 (the first case-insensitive match).
    assert answer_index("ff", ["Ff", "ff"]) == 1
    assert answer_index("Ff", ["Ff", "ff"]) == 0
    assert answer_index("FF", ["Ff", "gg"]) == 0  # no exact match: case-insensitive
    assert answer_index("(b)", ["Ff", "gg"]) == 1  # neither: the letter
    assert select_option("ff", ["Ff", "ff", "g"]) == 1
    assert METRICS["mc"]("ff", ["ff"], choices=["Ff", "ff", "g"]) == 1.0
    with pytest.raises(ValueError, match="neither"):
        answer_index("zz", ["Ff", "gg"])


# --- MMMU -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("response", "letter"),
    [
        ("B", "B"),
        ("(C)", "C"),
        ("The answer is (A).", "A"),
        ("I think it is B or maybe D", "D"),  # several: the last mentioned
        (
            "After reading the image carefully the one shown is mitochondria",
            "C",
        ),  # option text in a long answer
    ],
)
def test_mmmu_choice_parsing(response: str, letter: str) -> None:
    assert parse_mmmu_choice(response, ["nucleus", "ribosome", "mitochondria", "golgi"]) == letter


def test_mmmu_choice_without_any_candidate_is_reproducible() -> None:
    picks = {parse_mmmu_choice("no idea", ["w", "x", "y", "z"]) for _ in range(3)}
    assert len(picks) == 1 and picks <= {"A", "B", "C", "D"}


def test_mmmu_multiple_choice_reference_is_a_letter() -> None:
    # The case: reference "A" with options [C, A, B, D] means option A (text "C"), not option B.
    options = ["C", "A", "B", "D"]
    assert METRICS["mmmu"]("(A)", ["A"], choices=options) == 1.0
    assert METRICS["mmmu"]("(B)", ["A"], choices=options) == 0.0
    with pytest.raises(ValueError, match="letter"):
        METRICS["mmmu"]("(A)", ["photosynthesis"], choices=options)


@pytest.mark.parametrize(
    ("response", "parsed"),
    [
        # Values from MMMU's parse_open_response run on the same strings.
        ("The answer is 5cm", ["5cm"]),  # no number inside a word
        ("The answer is 1,000kg", ["1,000kg"]),  # nor "000"
        ("The answer is 5 cm", [5.0, "5 cm"]),
        ("so it is 3.5cm", [3.5, "3.5cm"]),
    ],
)
def test_mmmu_open_numbers_are_whole_tokens(response: str, parsed: list) -> None:
    assert sorted(map(str, parse_mmmu_open(response))) == sorted(map(str, parsed))


def test_mmmu_open_does_not_score_numbers_inside_words() -> None:
    assert METRICS["mmmu"]("The answer is 5cm", ["5"]) == 0.0
    assert METRICS["mmmu"]("The answer is 1,000kg", ["0"]) == 0.0
    assert METRICS["mmmu"]("The answer is 5 cm", ["5"]) == 1.0


def test_mmmu_open_parsing_and_scoring() -> None:
    assert 3.14 in parse_mmmu_open("So the result is 3.14159")
    assert METRICS["mmmu"]("So the result is 3.14159", ["3.14"]) == 1.0
    assert METRICS["mmmu"]("The total is 1,200 dollars", ["1200"]) == 1.0
    assert METRICS["mmmu"]("Therefore the answer is photosynthesis", ["Photosynthesis"]) == 1.0
    assert METRICS["mmmu"]("the answer is 7", ["8"]) == 0.0
    assert METRICS["mmmu"]("It is (B)", ["B"], choices=["1", "2", "3"]) == 1.0
    assert METRICS["mmmu"]("It is (B)", ["C"], choices=["1", "2", "3"]) == 0.0


# --- CIDEr-D --------------------------------------------------------------------------------

REFERENCES = [
    ["a man rides a red bicycle down the street"],
    ["two dogs play with a ball on the grass"],
    ["a plate of pasta with tomato sauce and basil"],
]


def test_cider_identical_caption_scores_ten_and_unrelated_zero() -> None:
    corpus, per_image = cider(
        [REFERENCES[0][0], "purple elephants sing opera loudly", REFERENCES[2][0]], REFERENCES
    )
    assert per_image[0] == pytest.approx(10.0)
    assert per_image[1] == 0.0
    assert corpus == pytest.approx(20.0 / 3)


def test_cider_hand_computed_partial_match() -> None:
    # Two images, one reference each, no shared n-grams; weight of every n-gram is log 2.
    # Unigrams: candidate (x, q), reference (x, y): (log2 * log2) / (sqrt2 log2)^2 = 0.5; no higher n-gram matches.
    # Equal lengths, so no penalty: 10 * (0.5 + 0 + 0 + 0) / 4 = 1.25.
    _, scores = cider(["x q", "z w"], [["x y"], ["z w"]])
    assert scores[0] == pytest.approx(1.25)


def test_cider_length_penalty_and_clipping() -> None:
    refs = [["a b c d"], ["e f g h"]]
    _, scores = cider(["a b c d a b c d", "e f g h"], refs)
    # The doubled caption's counts are clipped to the reference's (min(2w, w) * w). Per n, with w = log 2:
    # 1-grams 4w^2 / (4w * 2w) = 1/2; 2-grams (ab, bc, cd twice, da once) 3 / (sqrt13 sqrt3);
    # 3-grams 2 / (sqrt10 sqrt2); 4-grams 1 / sqrt7; length 8 vs 4: penalty exp(-16 / 72).
    per_n = [0.5, 3 / math.sqrt(39), 2 / math.sqrt(20), 1 / math.sqrt(7)]
    assert scores[0] == pytest.approx(10 * math.exp(-16 / 72) * sum(per_n) / 4)
    assert scores[1] == pytest.approx(10.0)


PYCOCOEVALCAP = json.loads(
    (Path(__file__).parent / "data" / "cider_pycocoevalcap.json").read_text()
)


@pytest.mark.parametrize(
    ("caption", "tokens"),
    [
        ("A man's dog.", "a man 's dog"),
        ("A black-and-white photo", "a black-and-white photo"),
        ("a 3.5 inch screen", "a 3.5 inch screen"),
        ("1,000 birds!", "1,000 birds"),
        ("He can't; she won't", "he ca n't she wo n't"),
        (
            "a laptop (open)",
            "a laptop -lrb- open -rrb-",
        ),  # lower-cased bracket tokens survive the official filter
        ('a "stop" sign at 5 p.m.', "a stop sign at 5 p.m."),
        ("a $5 bill, 50% off", "a $ 5 bill 50 % off"),
        ("the dogs' toys -- wow?!", "the dogs toys wow ?!"),
    ],
)
def test_cider_tokenises_as_the_ptb_tokenizer(caption: str, tokens: str) -> None:
    # Expected tokens: pycocoevalcap 1.2's PTBTokenizer (Stanford CoreNLP 3.4.1) run on the same captions.
    assert " ".join(tokenize(caption)) == tokens


def test_cider_tokens_equal_pycocoevalcaps_on_hundreds_of_captions() -> None:
    differ = {
        c: (" ".join(tokenize(c)), t)
        for c, t in PYCOCOEVALCAP["ptb"].items()
        if " ".join(tokenize(c)) != t
    }
    assert len(PYCOCOEVALCAP["ptb"]) > 500 and differ == {}


def test_cider_on_raw_captions_equals_pycocoevalcap() -> None:
    images = PYCOCOEVALCAP["images"]
    corpus, per_image = cider([i["candidate"] for i in images], [i["references"] for i in images])
    assert corpus == pytest.approx(PYCOCOEVALCAP["corpus"], rel=1e-12)
    assert per_image == pytest.approx(PYCOCOEVALCAP["per_image"], rel=1e-9, abs=1e-12)


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
    mean, scores = score_all("mc", ["B"], [["a dog"]], choices=[OPTIONS])
    assert mean == 1.0
    mean, scores = score_all("cider", [REFERENCES[0][0], "x", "y"], REFERENCES)
    assert scores[0] == pytest.approx(10.0) and mean == pytest.approx(10.0 / 3)
