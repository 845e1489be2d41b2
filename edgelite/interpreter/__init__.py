"""The edgelite interpreter: a tf.lite-compatible runtime (numpy + Cython)."""
