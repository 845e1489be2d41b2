"""``invoke`` lets other Python threads run while the heavy kernels compute.

The invoke loop holds the GIL only between nodes; each optimized kernel (and numpy)
releases it for its arithmetic. The test makes that observable without timing: with
the interpreter's switch interval raised to an hour, a thread holding the GIL is never
asked to give it up, so a background thread can only advance while the main thread
has released the GIL itself. Its counter must advance during ``invoke``.
"""

from __future__ import annotations

import sys
import threading
import time

import numpy as np
import pytest

from edgelite.interpreter import Interpreter
from edgelite.schema.builder import ModelBuilder
from edgelite.schema.generated import options as opt
from edgelite.schema.generated.enums import BuiltinOperator as B


def _conv_chain(layers: int = 4, size: int = 96, channels: int = 64) -> bytes:
    """x -> CONV_2D 3x3 (SAME) x ``layers``: a few ms of work per invoke."""
    rng = np.random.default_rng(0)
    mb = ModelBuilder()
    prev = mb.input("x", [1, size, size, channels], np.float32)
    for i in range(layers):
        w = mb.const(f"w{i}", rng.standard_normal((channels, 3, 3, channels)).astype(np.float32))
        b = mb.const(f"b{i}", np.zeros(channels, np.float32))
        out = mb.tensor(f"y{i}", [1, size, size, channels], np.float32)
        options = opt.Conv2DOptions(padding=opt.Padding.SAME, stride_w=1, stride_h=1)
        mb.op(B.CONV_2D, [prev, w, b], [out], options)
        prev = out
    mb.output(prev)
    return mb.to_bytes()


@pytest.fixture
def no_forced_switches():
    previous = sys.getswitchinterval()
    sys.setswitchinterval(3600.0)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


def test_other_threads_run_during_invoke(no_forced_switches):
    interp = Interpreter(model_content=_conv_chain())
    interp.allocate_tensors()
    interp.set_tensor(interp.get_input_details()[0]["index"], np.ones((1, 96, 96, 64), np.float32))
    interp.invoke()  # warm: first-use work happens outside the observed window

    counter = [0]
    stop = threading.Event()
    started = threading.Event()

    def spin() -> None:
        started.set()
        while not stop.is_set():
            counter[0] += 1
            time.sleep(0)  # hand the GIL back whenever the main thread wants it

    worker = threading.Thread(target=spin, daemon=True)
    worker.start()
    started.wait(10)
    time.sleep(0.01)  # let the worker reach its loop, then take the GIL back
    advanced = 0
    for _ in range(5):
        before = counter[0]
        interp.invoke()  # the only place this thread gives up the GIL
        advanced += counter[0] - before
    stop.set()
    worker.join(10)
    assert advanced > 0, "no other thread ran during 5 invokes: invoke held the GIL throughout"
