"""The types a skops artifact may contain beyond skops' own defaults.

This list lives in our code and is never read from an artifact: loading refuses any
artifact that needs a type missing here (DESIGN.md section 3: no pickle, ever).
"""

TRUSTED_TYPES: tuple[str, ...] = (
    "numpy.dtype",
    "sklearn.tree._tree.Tree",
)
