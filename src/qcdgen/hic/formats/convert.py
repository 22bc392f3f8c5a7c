"""Format detection, dispatch to the readers and writers, and conversion to Parquet."""

from __future__ import annotations

import contextlib
import os
from typing import Callable, Iterator

import awkward as ak

from qcdgen.errors import InputError
from qcdgen.hic.formats._text import is_gzip, iter_chunks, open_input, read_head

__all__ = ["FORMATS", "detect_format", "iter_file", "write_file", "convert"]

FORMATS = ("oscar2013", "oscar2013-extended", "oscar1999", "urqmd-f19", "hepmc3", "jetscape", "parquet")
_TEXT_WRITERS = ("oscar2013", "oscar2013-extended", "oscar1999", "urqmd-f19", "jetscape")


def _check_format(format: str) -> str:
    if format not in FORMATS:
        raise InputError(f"--format must be one of {', '.join(FORMATS)}; got {format!r}")
    return format


def detect_format(path) -> str:
    """The format of an event file, from its magic bytes or first non-empty line (of the
    decompressed text for a gzip file)."""
    path = open_input(path)
    head = read_head(path)
    if head.startswith(b"PAR1"):
        if is_gzip(path):
            raise InputError(f"{str(path)!r} is a gzip-compressed Parquet file; decompress it first (gunzip)")
        return "parquet"
    hint = f"give the format with --format (one of {', '.join(FORMATS)})"
    lines = [ln.strip() for ln in head.decode("utf-8", "replace").splitlines() if ln.strip()]
    if not lines:
        raise InputError(f"{str(path)!r} is empty; it holds no events")
    first = lines[0]
    bare = first.lstrip("#").strip()
    if first.startswith("#!OSCAR2013Extended"):
        return "oscar2013-extended"
    if first.startswith("#!OSCAR2013"):
        return "oscar2013"
    if bare.startswith("OSC1999A"):
        return "oscar1999"
    if bare.startswith("OSC1997A"):
        return "urqmd-f19"
    if first.startswith("HepMC::"):
        return "hepmc3"
    tokens = first.split()
    if "JETSCAPE_FINAL_STATE" in tokens or bare.split()[:1] == ["Event"]:
        return "jetscape"
    raise InputError(f"cannot tell the format of {str(path)!r} from its first line {first[:60]!r}; {hint}")


def _readers(fmt: str):
    if fmt in ("oscar2013", "oscar2013-extended"):
        from qcdgen.hic.formats.oscar2013 import read_oscar2013 as read
    elif fmt == "oscar1999":
        from qcdgen.hic.formats.oscar1999 import read_osc1999a as read
    elif fmt == "urqmd-f19":
        from qcdgen.hic.formats.oscar1999 import read_osc1997a as read
    elif fmt == "jetscape":
        from qcdgen.hic.formats.jetscape import read_jetscape as read
    else:
        raise AssertionError(fmt)
    return read


def _iter(path, fmt: str, chunk_events: int, on_bytes=None, on_events=None) -> Iterator[ak.Array]:
    if fmt == "parquet":
        from qcdgen.hic.events import iter_events

        n = 0
        for chunk in _rechunk(iter_events(path), chunk_events):
            n += len(chunk)
            if on_events is not None:
                on_events(n)
            yield chunk
    elif fmt == "hepmc3":
        from qcdgen.hic.formats.hepmc import read_hepmc

        yield from read_hepmc(path, chunk_events, on_events)
    else:
        yield from _readers(fmt)(path, chunk_events, on_bytes)


def _rechunk(chunks, size: int) -> Iterator[ak.Array]:
    pending, n = [], 0
    for chunk in chunks:
        pending.append(chunk)
        n += len(chunk)
        while n >= size:
            whole = ak.concatenate(pending) if len(pending) > 1 else pending[0]
            yield whole[:size]
            rest = whole[size:]
            pending, n = ([rest] if len(rest) else []), len(rest)
    if n:
        yield ak.concatenate(pending) if len(pending) > 1 else pending[0]


def iter_file(path, format: str | None = None, chunk_events: int = 1000) -> Iterator[ak.Array]:
    """Yield the events of a simulator file ``chunk_events`` at a time (the file is streamed).

    ``format`` is one of :data:`FORMATS`; ``None`` detects it from the file's first line.
    A file that breaks its format raises :class:`MalformedFileError` naming ``file:line``.
    """
    if isinstance(chunk_events, bool) or not isinstance(chunk_events, int) or chunk_events < 1:
        raise InputError(f"chunk_events must be an integer >= 1, got {chunk_events!r}")
    open_input(path)
    fmt = detect_format(path) if format is None else _check_format(format)
    return _iter(path, fmt, chunk_events)


def write_file(path, events, format: str) -> int:
    """Write events (an event array or an iterable of chunks) to ``path`` atomically; returns the count."""
    from qcdgen.io.atomic import atomic_path

    fmt = _check_format(format)
    if fmt == "parquet":
        from qcdgen.hic.events import EventWriter

        with EventWriter(path) as out:
            for chunk in iter_chunks(events):
                out.write(chunk)
        return out.n_events
    with atomic_path(path) as tmp:
        if fmt == "hepmc3":
            from qcdgen.hic.formats.hepmc import write_hepmc

            return write_hepmc(tmp, events)
        with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
            return _text_writer(fmt)(fh, events)


def _text_writer(fmt: str) -> Callable:
    from qcdgen.hic.formats import jetscape, oscar1999, oscar2013

    return {"oscar2013": oscar2013.write_oscar2013,
            "oscar2013-extended": lambda fh, ev: oscar2013.write_oscar2013(fh, ev, extended=True),
            "oscar1999": oscar1999.write_osc1999a,
            "urqmd-f19": oscar1999.write_osc1997a,
            "jetscape": jetscape.write_jetscape}[fmt]


def convert(in_path, out_path, format: str | None = None, progress: bool = False,
            chunk_events: int = 1000) -> int:
    """Convert a simulator file to a qcdgen Parquet event file; returns the number of events.

    The Parquet metadata records ``source_file`` and ``source_format``. With ``progress`` a
    rich bar follows the bytes read (text formats) or the events read (HepMC, Parquet).
    """
    from qcdgen.hic.events import EventWriter

    in_path = open_input(in_path)
    fmt = detect_format(in_path) if format is None else _check_format(format)
    by_bytes = fmt not in ("hepmc3", "parquet")
    if progress:
        from qcdgen.runtime import progress_bar

        bar = progress_bar(True)
    else:
        bar = None
    with (bar if bar is not None else contextlib.nullcontext()):
        task = None
        if bar is not None:
            task = bar.add_task(f"{in_path.name} → parquet", status="",
                                total=os.path.getsize(in_path) if by_bytes else None)

        def on_bytes(n: int) -> None:
            if bar is not None:
                bar.update(task, completed=n)

        def on_events(n: int) -> None:
            if bar is not None:
                bar.update(task, completed=n)

        metadata = {"source_file": str(in_path), "source_format": fmt}
        with EventWriter(out_path, metadata=metadata) as out:
            for chunk in _iter(in_path, fmt, chunk_events, on_bytes, on_events):
                out.write(chunk)
                if bar is not None:
                    bar.update(task, status=f"{out.n_events} events")
        if bar is not None and by_bytes:
            bar.update(task, completed=os.path.getsize(in_path))
    return out.n_events
