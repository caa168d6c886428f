"""What training does to a network: neural collapse, rank of the weights, and related measures.

Features are arrays of dims ``(sample, feature)`` (or :class:`neurocompare.Responses` with a
``label`` coordinate); classifier weights are arrays of dims ``(class, feature)`` as
``torch.nn.Linear`` stores them.

Modules are added here one concept each; the public names of every module are listed in
``__all__`` below.
"""

from __future__ import annotations

__all__: list[str] = []
