"""Procedural synthetic data: OCEC eye crops and face-parsing scenes.

A product of its own, used by the demo (``ocec-data synth eyes|faces`` writes them as
datasets), the tests and the benchmarks. Every sample is a pure function of
``(seed, index)``, drawn with numpy at any size.

- ``eyes`` / ``eyes_render`` / ``eyes_writer``: open/closed eye crops with continuous
  eyelid openness, and their OCEC parquet + PNG writer.
- ``faces`` (the generator) / ``faces_scene`` (the label map and the scene's parameters,
  with their samplers) / ``faces_render`` (the drawing) / ``faces_writer``: face-parsing
  scenes with LaPa-style index masks, and their PNG folders + parquet writer.
- ``raster``: drawing primitives both renderers share; ``common``: argument checks,
  chunked multi-process rendering and subject-level splits.

The data pipeline reads them through thin sources like any other data
(``ocec_lightning.data.sources.synthetic_eyes`` / ``synthetic_faces``). Nothing here
imports torch or Lightning; the only pipeline module used is ``data.masks`` (numpy), for
the left/right id swap ``faces.flip_face`` shares with the flip augmentation.
"""
