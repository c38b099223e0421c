"""The storage layer: each artifact format's reader and writer, one module per format.

The stages (landmarks, features, training, attribution, pruning, ...) sit above this package
and read and write their artifacts only through it; its modules depend on the shared
plumbing below (:mod:`emoflow._zarr`, :mod:`emoflow._tables`, :mod:`emoflow._atomic`) and the
landmark schemes, never on a stage.

- :mod:`~emoflow.storage.manifest` — ``manifest.parquet``;
- :mod:`~emoflow.storage.landmark_table` — ``landmarks/shard_*.parquet``;
- :mod:`~emoflow.storage.feature_store` — ``features.zarr``;
- :mod:`~emoflow.storage.landmark_sets` — ``landmarks.json``;
- :mod:`~emoflow.storage.model_file` — ``model.pt``;
- :mod:`~emoflow.storage.metrics` — ``metrics.json``, ``scores.parquet``;
- :mod:`~emoflow.storage.attribution_store` — ``attributions.zarr``;
- :mod:`~emoflow.storage.summary` — ``summary.parquet``.
"""
