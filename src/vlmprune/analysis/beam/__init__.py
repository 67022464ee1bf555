"""Beam search over sets of removed blocks: the search, its evaluations, its files and its figure.

``racing`` decides a step on the samples its decision needs; ``joint`` ranks sets over every
configured dataset (``beam.objective``).
"""
