import pytest

from vlmprune.engine.variants import parse_variant, variant_id


@pytest.mark.parametrize(
    "removed, name",
    [((), "full"), ((3,), "drop-3"), ((7, 3), "drop-3-7"), ((3, 3, 10), "drop-3-10")],
)
def test_variant_ids_are_canonical(removed, name):
    assert variant_id(removed) == name
    assert parse_variant(name) == tuple(sorted(set(removed)))


@pytest.mark.parametrize("name", ["drop-7-3", "drop-03", "drop-", "drop-3-3", "fulll", "drop_3"])
def test_non_canonical_ids_are_rejected(name):
    with pytest.raises(ValueError):
        parse_variant(name)
