"""Fuzz worker: mutate seed models and load each mutant; run in a subprocess.

Prints one JSON line: {"cases": N, "clean": N, "model_errors": N, "failures": [...]}.
Any exception other than ModelError is a failure; a crash or hang kills the
process, which the parent test reports as a failure.
"""

from __future__ import annotations

import json
import resource
import sys
import traceback
from pathlib import Path

import numpy as np

INTERESTING = [0, 1, 2, 3, 4, 0x7F, 0x80, 0xFF, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF]


def mutate(seed: bytes, rng: np.random.Generator) -> bytes:
    data = bytearray(seed)
    kind = rng.integers(4)
    if kind == 0:  # truncation
        return bytes(data[: int(rng.integers(0, len(data)))])
    if kind == 1:  # random byte flips
        for _ in range(int(rng.integers(1, 9))):
            data[int(rng.integers(len(data)))] ^= int(rng.integers(1, 256))
        return bytes(data)
    # field mutations: overwrite an aligned 32-bit word (offsets, lengths, indices)
    for _ in range(int(rng.integers(1, 4))):
        pos = int(rng.integers(0, len(data) // 4)) * 4
        value = (
            INTERESTING[int(rng.integers(len(INTERESTING)))]
            if kind == 2
            else int(rng.integers(0, 2**32))
        )
        data[pos : pos + 4] = int(value).to_bytes(4, "little")
    return bytes(data)


def exercise(data: bytes) -> str:
    from edgelite import ModelError, read_model, write_model

    try:
        model = read_model(data)
    except ModelError:
        return "model_error"
    write_model(model)  # anything that loads cleanly must also write
    return "clean"


def main() -> int:
    config = json.loads(sys.argv[1])
    limit = config.get("memory_bytes", 3 << 30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    seeds = [Path(path).read_bytes() for path in config["seeds"]]
    rng = np.random.default_rng(config["seed"])
    counts = {"clean": 0, "model_error": 0}
    failures = []
    for case in range(config["cases"]):
        seed_index = case % len(seeds)
        mutant = mutate(seeds[seed_index], rng)
        try:
            counts[exercise(mutant)] += 1
        except Exception as err:
            failures.append(
                {
                    "case": case,
                    "seed": config["seeds"][seed_index],
                    "error": f"{type(err).__name__}: {err}",
                    "trace": traceback.format_exc(limit=4)[-800:],
                }
            )
            if len(failures) >= 20:
                break
    print(json.dumps({"cases": config["cases"], **counts, "failures": failures}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
