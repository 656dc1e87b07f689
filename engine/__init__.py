"""Image work behind small interfaces: segmentation, subject encoding, panel generation.

Nothing here knows about the database. Heavy libraries (torch, diffusers, transformers,
segment_anything) are imported lazily inside the backends so that importing `engine`
is cheap and a missing GPU stack gives a clear message instead of an import traceback.
"""
