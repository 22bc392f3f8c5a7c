"""Readers and writers for the event files heavy-ion simulators write.

=====================  ==========================================================
format name            file
=====================  ==========================================================
``oscar2013``          SMASH ``#!OSCAR2013 particle_lists`` (OSCAR2013 standard)
``oscar2013-extended`` SMASH ``#!OSCAR2013Extended`` (more columns, same reader)
``oscar1999``          ``# OSC1999A`` (SMASH, UrQMD file 20)
``urqmd-f19``          ``OSC1997A final_id_p_x`` (UrQMD file 19)
``hepmc3``             HepMC3 ASCII via pyhepmc (HepMC2 ``IO_GenEvent`` read too)
``jetscape``           JETSCAPE ``FinalStateHadrons`` ASCII
``parquet``            qcdgen's own event files (:mod:`qcdgen.hic.events`)
=====================  ==========================================================

Every reader streams: :func:`iter_file` yields event arrays of ``chunk_events`` events
built with :func:`qcdgen.hic.events.make_events`, reading line by line; a gzip-compressed
input (found by its magic bytes) is read the same way. HepMC3 and JETSCAPE events keep the
generator's ``weight`` and ``centrality`` as event fields. A file that breaks its format
raises :class:`MalformedFileError` with a ``"file:line: what"`` message.
"""

from qcdgen.hic.formats._text import MalformedFileError
from qcdgen.hic.formats.convert import FORMATS, convert, detect_format, iter_file, write_file

__all__ = ["FORMATS", "MalformedFileError", "detect_format", "iter_file", "write_file", "convert"]
