"""Run the graph passes over every subgraph until none changes anything.

Each pass is ``fn(model, subgraph) -> number of changes``. One round runs them all in
order; rounds repeat (a fusion can expose a fold, a fold an identity) until a round
changes nothing. Then Keras LSTM loops are fused (their bodies are clean by now) and
buffer deduplication runs once at the end, over the whole model.
"""

from __future__ import annotations

from collections.abc import Callable

from ...schema.model import Model, Subgraph
from .constant_folding import fold_constants
from .cse import eliminate_common_subexpressions
from .dead_code import eliminate_dead_code
from .fc_reshape import fold_fc_reshapes
from .fold_batchnorm import fold_multiplications
from .fold_pad import fold_pads
from .fuse_activation import fuse_activations
from .fuse_bias import fuse_biases
from .hard_swish import recognize_hard_swish
from .identity_removal import remove_identities
from .lstm_fusion import fuse_lstm_loops
from .reshape_chains import simplify_chains
from .sink_reshape import sink_reshapes

GraphPass = Callable[[Model, Subgraph], int]

PASSES: tuple[tuple[str, GraphPass], ...] = (
    ("constant folding", fold_constants),
    ("identity removal", remove_identities),
    ("transpose/reshape chains", simplify_chains),
    ("dense reshapes", fold_fc_reshapes),
    ("dead code", eliminate_dead_code),
    ("batch-norm folding", fold_multiplications),
    ("bias fusion", fuse_biases),
    ("pad folding", fold_pads),
    ("activation fusion", fuse_activations),
    ("reshape sinking", sink_reshapes),
    ("hard-swish recognition", recognize_hard_swish),
    ("common subexpressions", eliminate_common_subexpressions),
)
MAX_ROUNDS = 20


def run_passes(
    model: Model,
    passes: tuple[tuple[str, GraphPass], ...] = PASSES,
    progress: Callable[[str], None] | None = None,
) -> dict[str, int]:
    """Run ``passes`` to a fixed point on every subgraph; returns changes per pass."""
    changes = {name: 0 for name, _ in passes}
    for sg in model.subgraphs:
        for _ in range(MAX_ROUNDS):
            round_changes = 0
            for name, graph_pass in passes:
                count = graph_pass(model, sg)
                changes[name] += count
                round_changes += count
            if not round_changes:
                break
        eliminate_dead_code(model, sg)
    # Loops are recognised once their bodies are simplified; fusing drops whole subgraphs.
    changes["LSTM loop fusion"] = fuse_lstm_loops(model)
    changes["buffer deduplication"] = model.deduplicate_buffers()
    if progress is not None:
        for name, count in changes.items():
            progress(f"pass {name}: {count} change(s)")
    return changes
