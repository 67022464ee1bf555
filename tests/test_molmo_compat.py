"""The scoped fix for Molmo v1's ``index_add_`` with a 3-D source, on a stand-in module."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from vlmprune.models.compat import molmo_index_add_fix


class AddsImageFeatures(nn.Module):
    """Does what modeling_molmoe.py does: adds (batch, patches, dim) features into flattened embeddings."""

    def forward(self, x: torch.Tensor, index: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        flat = x.clone().view(-1, x.shape[-1])
        flat.index_add_(0, index, features)
        return flat.view_as(x)


def inputs():
    torch.manual_seed(0)
    x = torch.randn(2, 5, 3)
    features = torch.randn(2, 2, 3)
    index = torch.tensor([[1, 2], [6, 8]])  # flat positions (batch * 5 + token)
    return x, index, features


def test_without_the_fix_torch_refuses_a_3d_source():
    with pytest.raises((RuntimeError, IndexError)):
        AddsImageFeatures()(*inputs())


def test_the_fix_flattens_the_source_and_only_inside_its_scope():
    x, index, features = inputs()
    original = torch.Tensor.index_add_
    with molmo_index_add_fix():
        assert torch.Tensor.index_add_ is not original
        out = AddsImageFeatures()(x, index, features)
    assert torch.Tensor.index_add_ is original
    expected = x.clone().view(-1, 3)
    expected.index_add_(0, index.reshape(-1), features.reshape(-1, 3))
    torch.testing.assert_close(out, expected.view_as(x))
    with pytest.raises((RuntimeError, IndexError)):
        AddsImageFeatures()(x, index, features)


def test_other_calls_are_untouched_and_an_error_restores_torch():
    original = torch.Tensor.index_add_
    target = torch.zeros(4, 2)
    with molmo_index_add_fix():
        target.index_add_(0, torch.tensor([0, 3]), torch.ones(2, 2))
        other = torch.zeros(2, 4).index_add_(1, torch.tensor([1]), torch.ones(2, 1))
        with pytest.raises(ValueError):
            with molmo_index_add_fix():
                raise ValueError("inner failure")
        assert torch.Tensor.index_add_ is not original  # the outer scope is still active
    assert torch.Tensor.index_add_ is original
    assert target.sum() == 4 and other[:, 1].sum() == 2
