"""Cached subject encodings: a character is encoded once per (character id, character
version, engine fingerprint), however many panels use it and across restarts.

The tensors live in a safetensors file under the data directory's cache/encodings/, written
atomically before the `subject_encodings` row that points to it commits; the row keeps the
file's sha256, so a missing or damaged file is simply encoded again. A new picture bumps the
character's version, which is a new key: only that character is encoded again, and its older
encodings for the same engine are removed. Recently used encodings stay in memory too.
"""
from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
from PIL import Image
from safetensors import SafetensorError
from safetensors.numpy import load as load_tensors
from safetensors.numpy import save as save_tensors
from sqlalchemy import delete, select
from sqlalchemy.dialects.sqlite import insert
from sqlalchemy.exc import IntegrityError

from engine.base import Generator, SubjectEncoding
from story import models
from story.atomic import write_bytes_atomically
from story.studio import Studio

MEMORY_ITEMS = 16
"""Encodings kept in memory per cache (a draft cut-out is a few MB)."""

Key = tuple[int, int, str]


@dataclass(frozen=True)
class SubjectSource:
    """What encoding one character version needs: its prepared picture and mask (asset hashes)."""

    character_id: int
    version: int
    name: str
    subject_hash: str
    subject_mask_hash: str

    @classmethod
    def of(cls, row: models.Character) -> Optional["SubjectSource"]:
        """The source of a character row, or None when it has no picture yet."""
        if not row.images:
            return None
        first = row.images[0]
        return cls(row.id, row.version, row.name, first.subject_hash, first.subject_mask_hash)


def _file_name(key: Key) -> str:
    character_id, version, fingerprint = key
    digest = hashlib.sha256(fingerprint.encode()).hexdigest()[:16]
    return f"c{character_id}-v{version}-{digest}.safetensors"


def _header_metadata(data: bytes) -> dict[str, str]:
    """The `__metadata__` of safetensors bytes that safetensors has read without error (so the
    header is a JSON object and its metadata maps strings to strings): the 8-byte
    little-endian header length, then the header. safetensors reads metadata only from a
    file path (safe_open), not from bytes already read and checksummed."""
    length = int.from_bytes(data[:8], "little")
    return json.loads(data[8:8 + length]).get("__metadata__", {})


def _decode(data: bytes, fingerprint: str) -> Optional[SubjectEncoding]:
    """Tensors and metadata of a cached file; None when it is unreadable or not this engine's."""
    try:
        tensors = load_tensors(data)  # first: it validates the header _header_metadata reads
        meta = _header_metadata(data)
        extra = json.loads(meta.get("meta", "{}"))
    except (SafetensorError, ValueError, UnicodeDecodeError):
        return None
    if meta.get("fingerprint") != fingerprint:
        return None
    return SubjectEncoding(fingerprint=fingerprint, tensors=tensors, meta=extra)


def _encode_file(encoding: SubjectEncoding) -> bytes:
    tensors = {name: np.ascontiguousarray(array) for name, array in encoding.tensors.items()}
    metadata = {"fingerprint": encoding.fingerprint, "meta": json.dumps(encoding.meta, sort_keys=True)}
    return save_tensors(tensors, metadata=metadata)


class EncodingCache:
    """Subject encodings of one generator, from memory, disk, or `encode_subject`."""

    def __init__(self, studio: Studio, generator: Generator, *, memory_items: int = MEMORY_ITEMS) -> None:
        self.studio = studio
        self.generator = generator
        self.folder: Path = studio.data_dir.encodings
        self.memory_items = memory_items
        self._memory: OrderedDict[Key, SubjectEncoding] = OrderedDict()

    def key(self, source: SubjectSource) -> Key:
        """The cache key of a character version for this generator."""
        return (source.character_id, source.version, self.generator.fingerprint)

    def get(self, source: SubjectSource) -> SubjectEncoding:
        """The encoding of this character version for this generator (encoded if needed)."""
        return self.lookup(source) or self._encode(source)

    def lookup(self, source: SubjectSource) -> Optional[SubjectEncoding]:
        """The cached encoding (memory, then disk), or None when it was never encoded."""
        key = self.key(source)
        encoding = self._memory.get(key) or self._from_disk(key)
        if encoding is not None:
            self._remember(key, encoding)
        return encoding

    def _remember(self, key: Key, encoding: SubjectEncoding) -> None:
        self._memory[key] = encoding
        self._memory.move_to_end(key)
        while len(self._memory) > self.memory_items:
            self._memory.popitem(last=False)

    def _from_disk(self, key: Key) -> Optional[SubjectEncoding]:
        character_id, version, fingerprint = key
        with self.studio.db.read() as session:
            row = session.scalar(select(models.SubjectEncoding).where(
                models.SubjectEncoding.character_id == character_id,
                models.SubjectEncoding.character_version == version,
                models.SubjectEncoding.fingerprint == fingerprint,
            ))
            if row is None:
                return None
            file, checksum = row.file, row.sha256
        try:
            data = (self.folder / file).read_bytes()
        except OSError:
            return None
        if checksum and hashlib.sha256(data).hexdigest() != checksum:
            return None
        return _decode(data, fingerprint)

    def pictures(self, source: SubjectSource) -> tuple[Image.Image, Image.Image]:
        """What `encode_subject` takes for a character version: its subject (RGB) and mask (L)."""
        assets = self.studio.assets
        return assets.open(source.subject_hash).convert("RGB"), assets.open(source.subject_mask_hash).convert("L")

    def _encode(self, source: SubjectSource) -> SubjectEncoding:
        return self.store(self.key(source), self.generator.encode_subject(*self.pictures(source)))

    def store(self, key: Key, encoding: SubjectEncoding) -> SubjectEncoding:
        """Keep an encoding computed here or elsewhere (a cluster actor): write the file
        atomically, then commit its row (and drop older versions); returns it as cached."""
        encoding = SubjectEncoding(key[2], encoding.tensors, dict(encoding.meta))
        self._remember(key, encoding)
        data = _encode_file(encoding)
        name = _file_name(key)
        write_bytes_atomically(self.folder / name, data)
        try:
            stale = self._index(key, name, hashlib.sha256(data).hexdigest())
        except IntegrityError:  # the character was deleted meanwhile: use it, do not index it
            (self.folder / name).unlink(missing_ok=True)
            return encoding
        for old in stale:
            (self.folder / old).unlink(missing_ok=True)
        return encoding

    def _index(self, key: Key, name: str, checksum: str) -> list[str]:
        """Upsert the row of `key`; delete rows of older versions, returning their files."""
        character_id, version, fingerprint = key
        table = models.SubjectEncoding
        with self.studio.db.write() as session:
            session.execute(
                insert(table).values(
                    character_id=character_id, character_version=version, fingerprint=fingerprint,
                    file=name, sha256=checksum, created_at=models.utcnow(),
                ).on_conflict_do_update(
                    index_elements=["character_id", "character_version", "fingerprint"],
                    set_={"file": name, "sha256": checksum, "created_at": models.utcnow()},
                )
            )
            older = (table.character_id == character_id, table.fingerprint == fingerprint,
                     table.character_version < version)
            stale = list(session.scalars(select(table.file).where(*older)))
            session.execute(delete(table).where(*older))
        return stale
