"""Block importance: accuracy(full) - accuracy(drop-i) with paired bootstrap intervals, and its
files."""
