"""Running a model on one sample and handing chosen tensors to a callback.

Two runtimes: edgelite's interpreter observes each tensor with a tap right after it
is produced (memory reuse stays on), and ai-edge-litert, for models edgelite cannot
run yet, keeps every tensor (``experimental_preserve_all_tensors``) and reads them
after ``invoke``. Float samples are encoded for integer model inputs with the
input's scale and zero point, like a QUANTIZE op would.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..errors import EdgeliteError
from ..schema.model import Tensor

RUNTIMES = ("edgelite", "litert")
Sink = Callable[[int, np.ndarray], None]


class DebugError(EdgeliteError, ValueError):
    """The models or the data cannot be compared as asked; says why and what to do."""


def encode_input(value: np.ndarray, tensor: Tensor) -> np.ndarray:
    """``value`` as input ``tensor`` holds it: quantized when a float feeds an integer input."""
    q = tensor.quantization
    dtype = tensor.dtype
    if dtype.kind in "iu" and value.dtype.kind == "f" and q is not None and len(q.scale):
        scaled = value.astype(np.float64) / float(q.scale[0])
        # TFLite's QUANTIZE rounds half away from zero.
        rounded = np.sign(scaled) * np.floor(np.abs(scaled) + 0.5)
        zero_point = int(q.zero_point[0]) if len(q.zero_point) else 0
        info = np.iinfo(dtype)
        return np.clip(rounded + zero_point, info.min, info.max).astype(dtype)
    return np.ascontiguousarray(value, dtype=dtype)


class _Runner:
    """One model in one runtime; ``run`` feeds a sample and reports the watched tensors."""

    def __init__(self, role: str, inputs: Sequence[int], watched: Sequence[int]) -> None:
        self.role = role
        self.inputs = list(inputs)
        self.watched = list(watched)
        self.shapes: list[tuple[int, ...]] | None = None
        self.interp: Any = None

    def _prepare(self, sample: list[np.ndarray]) -> None:
        shapes = [tuple(v.shape) for v in sample]
        if shapes == self.shapes:
            return
        for index, value in zip(self.inputs, sample):
            self.interp.resize_tensor_input(index, list(value.shape))
        try:
            self.interp.allocate_tensors()
        except (ValueError, RuntimeError) as err:
            raise self._cannot_run(err) from err
        self.shapes = shapes

    def _feed(self, sample: list[np.ndarray]) -> None:
        self._prepare(sample)
        for index, value in zip(self.inputs, sample):
            self.interp.set_tensor(index, value)

    def _cannot_run(self, err: Exception) -> DebugError:
        return DebugError(f"the {self.role} model cannot run: {err}")


class EdgeliteRunner(_Runner):
    """edgelite's interpreter with one tap per watched tensor."""

    def __init__(self, model_bytes: bytes, role: str, inputs, watched) -> None:
        from ..interpreter import Interpreter

        super().__init__(role, inputs, watched)
        self._sink: Sink | None = None
        try:
            self.interp = Interpreter(model_content=model_bytes)
        except ValueError as err:
            raise self._cannot_run(err) from err
        for t in self.watched:
            self.interp.add_tap(t, self._tap(t), copy=False)

    def _tap(self, t: int) -> Callable[[np.ndarray], None]:
        def deliver(value: np.ndarray) -> None:
            if self._sink is not None:
                self._sink(t, value)

        return deliver

    def run(self, sample: list[np.ndarray], sink: Sink) -> None:
        """Invoke on ``sample``; ``sink(tensor, view)`` sees each watched tensor once.

        The view is only valid during the call (the arena reuses its memory).
        """
        self._feed(sample)
        self._sink = sink
        try:
            self.interp.invoke()
        except (ValueError, RuntimeError) as err:
            raise DebugError(f"the {self.role} model failed: {err}") from err
        finally:
            self._sink = None

    def _cannot_run(self, err: Exception) -> DebugError:
        return DebugError(
            f"the {self.role} model cannot run in edgelite: {err}; use --runtime litert "
            "(runtime='litert', needs ai-edge-litert) for models edgelite cannot run yet"
        )


class LitertRunner(_Runner):
    """ai-edge-litert keeping every intermediate tensor, read after invoke."""

    def __init__(self, model_bytes: bytes, role: str, inputs, watched) -> None:
        try:
            from ai_edge_litert.interpreter import Interpreter, OpResolverType
        except ImportError:
            raise DebugError(
                "runtime 'litert' needs the official runtime: pip install ai-edge-litert"
            ) from None
        super().__init__(role, inputs, watched)
        try:
            # Delegates would fuse nodes and hide their outputs, so none (LiteRT also
            # warns that keeping all tensors is for debugging: that is the point here).
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                self.interp = Interpreter(
                    model_content=model_bytes,
                    experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
                    experimental_preserve_all_tensors=True,
                )
        except (ValueError, RuntimeError) as err:
            raise self._cannot_run(err) from err

    def run(self, sample: list[np.ndarray], sink: Sink) -> None:
        """Invoke on ``sample``, then pass each watched tensor to ``sink(tensor, value)``."""
        self._feed(sample)
        try:
            self.interp.invoke()
        except (ValueError, RuntimeError) as err:
            raise DebugError(f"the {self.role} model failed in ai-edge-litert: {err}") from err
        for t in self.watched:
            sink(t, self.interp.get_tensor(t))


def make_runner(runtime: str, model_bytes: bytes, role: str, inputs, watched):
    """An EdgeliteRunner or a LitertRunner for ``model_bytes``."""
    if runtime == "edgelite":
        return EdgeliteRunner(model_bytes, role, inputs, watched)
    if runtime == "litert":
        return LitertRunner(model_bytes, role, inputs, watched)
    raise DebugError(f"unknown runtime {runtime!r}; choose one of {', '.join(RUNTIMES)}")
