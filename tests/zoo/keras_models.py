"""Small but realistic Keras 3 models with deterministic weights, for the test zoo.

Every builder takes no arguments and returns ``(model, samples)``: the Keras model and a
function ``samples(n, seed=0)`` that returns ``n`` representative inputs (numpy arrays with a
batch dimension of 1), used as the converter's representative dataset and as test inputs.

Weights are random but fixed: each builder seeds Keras (Python, NumPy and TensorFlow RNGs)
before it creates any layer, so two builds in different processes give identical weights.

Random weights alone give degenerate models (BatchNorm statistics of 0/1 that do not match
the activations, a 1000-way softmax that is almost uniform), which make quantization look
either trivially right or hopelessly wrong.  Calibration steps fix that, from data:

* :func:`calibrate_batchnorm` sets every BatchNormalization's moving mean/variance to the
  statistics of the activations it actually sees on a batch of representative inputs.
* :func:`calibrate_logits` rescales a classifier head so that its logits are centred and
  spread (per-input variation of a chosen size), like a trained classifier's: the softmax
  then has clear winners that differ from input to input.
* :func:`damp_residual_branches` (MobileNetV2 only) keeps the deep random network from being
  chaotic, so that float16 weights no longer change its answers.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import keras
import numpy as np

SampleFn = Callable[..., list[np.ndarray]]

# Weights and calibration data use their own seeds; the converter's representative data
# and the held-out test samples use others (see build.py), so the samples used to check a
# model are not the ones it was calibrated on.
WEIGHT_SEED = 1234
CALIBRATION_SEED = 99


def smooth_images(n: int, height: int, width: int, channels: int = 3, seed: int = 0):
    """Return ``n`` structured synthetic images in [-1, 1] with shape (n, h, w, c).

    Each image is a few random plane waves (smooth or busy, per image) plus a few flat
    discs, with its own per-channel gain and tint and a little noise.  Unlike white noise
    they have edges and gradients for convolutions to respond to, and like photos they
    differ in global colour and contrast, so a network's outputs differ between images.
    """
    rng = np.random.default_rng(seed)
    grid = np.meshgrid(np.linspace(0, 1, height), np.linspace(0, 1, width), indexing="ij")
    images = np.zeros((n, height, width, channels), np.float32)
    for i in range(n):
        pattern = _waves(rng, grid, count=rng.integers(2, 7), max_freq=rng.uniform(1, 12))
        pattern += _discs(rng, grid, count=rng.integers(0, 4))
        gain = rng.uniform(0.3, 1.5, size=channels)
        tint = rng.uniform(-0.8, 0.8, size=channels)
        for c in range(channels):
            own = 0.5 * _waves(rng, grid, count=1, max_freq=4)
            noise = 0.05 * rng.standard_normal((height, width))
            images[i, :, :, c] = np.tanh(gain[c] * (pattern + own) + tint[c] + noise)
    return images


def _waves(rng: np.random.Generator, grid, count: int, max_freq: float) -> np.ndarray:
    """Sum of ``count`` plane waves with random direction, frequency, phase and amplitude."""
    ys, xs = grid
    total = np.zeros_like(ys)
    for _ in range(count):
        fy, fx = rng.uniform(-max_freq, max_freq, size=2)
        phase = rng.uniform(0, 2 * np.pi)
        total += rng.uniform(0.3, 1.0) * np.sin(2 * np.pi * (fy * ys + fx * xs) + phase)
    return total


def _discs(rng: np.random.Generator, grid, count: int) -> np.ndarray:
    """``count`` flat discs of random position, radius and (signed) intensity."""
    ys, xs = grid
    total = np.zeros_like(ys)
    for _ in range(count):
        cy, cx = rng.uniform(0, 1, size=2)
        radius = rng.uniform(0.05, 0.3)
        total += rng.uniform(-2, 2) * ((ys - cy) ** 2 + (xs - cx) ** 2 < radius**2)
    return total


def image_sampler(height: int, width: int, channels: int = 3) -> SampleFn:
    """Return a ``samples(n, seed=0)`` function yielding single images of the given size."""

    def samples(n: int, seed: int = 0) -> list[np.ndarray]:
        batch = smooth_images(n, height, width, channels, seed=seed)
        return [batch[i : i + 1] for i in range(n)]

    return samples


def calibrate_batchnorm(model: keras.Model, batch: np.ndarray) -> None:
    """Set every BatchNormalization's moving statistics to those of ``batch``.

    With momentum 0, one forward pass in training mode replaces the moving mean and
    variance by the batch statistics of each layer's own input.  Every layer normalizes with
    those same statistics during the pass, so the activations seen by later layers are the
    ones they will see at inference on this data.  Momentum is restored afterwards so the
    model config stays the stock one.
    """
    layers = [layer for layer in model.layers if _is_batchnorm(layer)]
    saved = [layer.momentum for layer in layers]
    for layer in layers:
        layer.momentum = 0.0
    _run(model, batch, training=True)
    for layer, momentum in zip(layers, saved):
        layer.momentum = momentum


def _is_batchnorm(layer) -> bool:
    return isinstance(layer, keras.layers.BatchNormalization)


def _run(model: keras.Model, batch: np.ndarray, training: bool):
    """Call a single-input model on ``batch``.

    keras.applications models declare their inputs as a one-element list and Keras warns
    when called with a bare array; the call is correct either way, so the warning is muted.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The structure of `inputs`")
        return model(batch, training=training)


def calibrate_logits(
    model: keras.Model, head: keras.layers.Dense, batch: np.ndarray, spread: float
) -> None:
    """Rescale the Dense layer ``head`` so its logits vary by ``spread`` (std) across inputs.

    The kernel is scaled so that the per-input deviation of the logits from their mean over
    ``batch`` has standard deviation ``spread``; the bias removes that mean.  Without the
    centring, the part of the logits shared by all inputs dominates and every input gets the
    same top class.
    """
    features = np.asarray(_run(keras.Model(model.input, head.input), batch, training=False))
    kernel, bias = (np.asarray(w) for w in head.get_weights())
    logits = features @ kernel
    deviation = logits - logits.mean(axis=0, keepdims=True)
    kernel = kernel * (spread / deviation.std())
    bias = -features.mean(axis=0) @ kernel
    head.set_weights([kernel.astype(np.float32), bias.astype(np.float32)])


def damp_residual_branches(model: keras.Model, gamma: float) -> None:
    """Set the BatchNorm gamma closing each residual branch of a MobileNetV2 to ``gamma``.

    At random initialization, 17 stacked blocks with unit-gamma BatchNorm form a chaotic
    map: perturbing the weights by 0.1% (less than int8 rounding) moved the features by
    20% of their spread between images, so any quantization flipped the top class.  Trained
    residual networks have small gammas at the end of their branches (zero-gamma init is
    common too); with 0.2 the same perturbation moves the features by about 3%.
    """
    for layer in model.layers:
        if layer.name.endswith("_add"):
            norm = model.get_layer(layer.name.removesuffix("_add") + "_project_BN")
            norm.gamma.assign(np.full(norm.gamma.shape, gamma, np.float32))


def _stack(samples: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(samples, axis=0)


def mobilenet_v2() -> tuple[keras.Model, SampleFn]:
    """MobileNetV2 (alpha 1.0, 224x224x3, 1000 classes) as keras.applications builds it.

    The batch dimension is left dynamic, as it is for anyone converting the stock model.
    Residual branches are damped (:func:`damp_residual_branches`), BatchNorm statistics
    come from 16 synthetic images and the classifier is calibrated so the softmax has a
    clear top class (0.1 to 0.9 probability) that changes with the image.
    """
    keras.utils.set_random_seed(WEIGHT_SEED)
    model = keras.applications.MobileNetV2(weights=None, input_shape=(224, 224, 3))
    damp_residual_branches(model, gamma=0.2)
    samples = image_sampler(224, 224)
    batch = _stack(samples(16, seed=CALIBRATION_SEED))
    calibrate_batchnorm(model, batch)
    calibrate_logits(model, model.get_layer("predictions"), batch, spread=4.0)
    return model, samples


def small_cnn() -> tuple[keras.Model, SampleFn]:
    """A CIFAR-sized conv classifier with a dynamic batch dimension.

    The converted model has shape_signature [-1, 32, 32, 3].  It mixes plain, depthwise
    and pooling layers with BatchNorm, ReLU/ReLU6 and a 10-way softmax.
    """
    keras.utils.set_random_seed(WEIGHT_SEED)
    layers = keras.layers
    inputs = keras.Input(shape=(32, 32, 3), name="image")
    x = layers.Conv2D(16, 3, padding="same", use_bias=False)(inputs)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    x = layers.MaxPooling2D()(x)
    x = layers.DepthwiseConv2D(3, padding="same")(x)
    x = layers.Conv2D(32, 1, activation="relu6")(x)
    x = layers.AveragePooling2D(pool_size=2)(x)
    x = layers.Conv2D(64, 3, strides=2, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(10, activation="softmax", name="logits")(x)
    model = keras.Model(inputs, outputs, name="small_cnn")
    samples = image_sampler(32, 32)
    batch = _stack(samples(32, seed=CALIBRATION_SEED))
    calibrate_batchnorm(model, batch)
    calibrate_logits(model, model.get_layer("logits"), batch, spread=2.0)
    return model, samples


LSTM_VOCAB = 1000
LSTM_SEQ = 16


def token_sampler(vocab: int, length: int) -> SampleFn:
    """Return a ``samples(n, seed=0)`` function yielding int32 token ids of shape (1, length).

    Id 0 is left out because text models conventionally reserve it for padding.
    """

    def samples(n: int, seed: int = 0) -> list[np.ndarray]:
        rng = np.random.default_rng(seed)
        return [rng.integers(1, vocab, size=(1, length), dtype=np.int32) for _ in range(n)]

    return samples


def _lstm_classifier(name: str, unroll: bool) -> tuple[keras.Model, SampleFn]:
    """Embedding + LSTM + softmax text classifier over 16 int32 token ids (batch 1)."""
    keras.utils.set_random_seed(WEIGHT_SEED)
    layers = keras.layers
    inputs = keras.Input(shape=(LSTM_SEQ,), batch_size=1, dtype="int32", name="tokens")
    x = layers.Embedding(LSTM_VOCAB, 32)(inputs)
    x = layers.LSTM(48, unroll=unroll)(x)
    outputs = layers.Dense(4, activation="softmax", name="logits")(x)
    model = keras.Model(inputs, outputs, name=name)
    samples = token_sampler(LSTM_VOCAB, LSTM_SEQ)
    calibrate_logits(model, model.get_layer("logits"), _stack(samples(32)), spread=2.0)
    return model, samples


def lstm_text() -> tuple[keras.Model, SampleFn]:
    """The LSTM classifier as Keras builds it by default: the zoo's control-flow model.

    Keras 3's LSTM carries no fusion hint for the converter, so the recurrence is lowered
    to a WHILE loop with separate cond/body subgraphs (not UNIDIRECTIONAL_SEQUENCE_LSTM).
    """
    return _lstm_classifier("lstm_text", unroll=False)


def lstm_unrolled() -> tuple[keras.Model, SampleFn]:
    """The same classifier with the 16 time steps unrolled into straight-line ops.

    The converter's calibrator crashes on WHILE loops, so this is the LSTM that can be
    fully quantized (int8 LOGISTIC/TANH/MUL/ADD gate arithmetic).
    """
    return _lstm_classifier("lstm_unrolled", unroll=True)


TRANSFORMER_SEQ = 16
TRANSFORMER_DIM = 64


def sequence_sampler(length: int, dim: int) -> SampleFn:
    """Return a ``samples(n, seed=0)`` function yielding (1, length, dim) float embeddings.

    Token embeddings are unit Gaussians plus a sinusoidal position code, the usual input
    of an encoder block.
    """
    positions = np.arange(length)[:, None] / (100.0 ** (np.arange(dim)[None, :] / dim))
    position_code = np.where(np.arange(dim) % 2 == 0, np.sin(positions), np.cos(positions))

    def samples(n: int, seed: int = 0) -> list[np.ndarray]:
        rng = np.random.default_rng(seed)
        return [
            (rng.standard_normal((1, length, dim)) + position_code).astype(np.float32)
            for _ in range(n)
        ]

    return samples


def transformer_block() -> tuple[keras.Model, SampleFn]:
    """One post-norm transformer encoder block on a (1, 16, 64) sequence.

    Multi-head self-attention (4 heads of 16), residual + LayerNorm, a GELU feed-forward
    (64 -> 128 -> 64), residual + LayerNorm.
    """
    keras.utils.set_random_seed(WEIGHT_SEED)
    layers = keras.layers
    inputs = keras.Input(shape=(TRANSFORMER_SEQ, TRANSFORMER_DIM), batch_size=1, name="tokens")
    attended = layers.MultiHeadAttention(num_heads=4, key_dim=16)(inputs, inputs)
    x = layers.LayerNormalization(epsilon=1e-6)(layers.Add()([inputs, attended]))
    hidden = layers.Dense(2 * TRANSFORMER_DIM, activation="gelu")(x)
    projected = layers.Dense(TRANSFORMER_DIM)(hidden)
    outputs = layers.LayerNormalization(epsilon=1e-6)(layers.Add()([x, projected]))
    model = keras.Model(inputs, outputs, name="transformer_block")
    return model, sequence_sampler(TRANSFORMER_SEQ, TRANSFORMER_DIM)


def _conv_block(x, filters: int):
    """Two 3x3 convs, the first followed by BatchNorm, as in a U-Net stage."""
    layers = keras.layers
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    return layers.Conv2D(filters, 3, padding="same", activation="relu")(x)


def unet_like() -> tuple[keras.Model, SampleFn]:
    """A two-level U-Net on 64x64x3 images (batch 1) giving 3-class per-pixel softmax.

    The decoder upsamples once with Conv2DTranspose and once with bilinear UpSampling2D,
    joins encoder features with Concatenate, and a side branch brings the bottleneck back
    to full size with a Resizing layer (tf.image.resize, i.e. RESIZE_BILINEAR).
    """
    keras.utils.set_random_seed(WEIGHT_SEED)
    layers = keras.layers
    inputs = keras.Input(shape=(64, 64, 3), batch_size=1, name="image")
    enc1 = _conv_block(inputs, 16)
    enc2 = _conv_block(layers.MaxPooling2D()(enc1), 32)
    bottom = _conv_block(layers.MaxPooling2D()(enc2), 64)
    up2 = layers.Conv2DTranspose(32, 2, strides=2, activation="relu")(bottom)
    dec2 = _conv_block(layers.Concatenate()([up2, enc2]), 32)
    up1 = layers.UpSampling2D(interpolation="bilinear")(dec2)
    dec1 = _conv_block(layers.Concatenate()([up1, enc1]), 16)
    side = layers.Resizing(64, 64, interpolation="bilinear")(layers.Conv2D(8, 1)(bottom))
    x = layers.Concatenate()([dec1, side])
    outputs = layers.Conv2D(3, 1, activation="softmax", name="classes")(x)
    model = keras.Model(inputs, outputs, name="unet_like")
    samples = image_sampler(64, 64)
    calibrate_batchnorm(model, _stack(samples(16, seed=CALIBRATION_SEED)))
    return model, samples


BUILDERS: dict[str, Callable[[], tuple[keras.Model, SampleFn]]] = {
    "mobilenet_v2": mobilenet_v2,
    "small_cnn": small_cnn,
    "lstm_text": lstm_text,
    "lstm_unrolled": lstm_unrolled,
    "transformer_block": transformer_block,
    "unet_like": unet_like,
}
