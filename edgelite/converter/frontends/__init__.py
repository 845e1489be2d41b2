"""Front-ends: turn a source framework's model into lowering-ready graphs.

Each front-end imports its framework lazily, inside its own module.
"""
