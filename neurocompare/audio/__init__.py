"""Audio: a differentiable cochleagram front end and a synthesized-speech word task.

Filled in by the audio work of issue 19; see the module docstrings of the private modules.
"""

__all__: list[str] = []
