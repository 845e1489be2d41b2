"""Graph passes over the IR, one per module; ``pipeline.run_passes`` runs them all."""

from .pipeline import PASSES, run_passes

__all__ = ["PASSES", "run_passes"]
