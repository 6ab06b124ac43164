"""HTTP/1.1 (RFC 9112) as a sans-IO state machine.

Bottom up: :mod:`.head` vets a request head and :mod:`.chunked` a chunked body
before anything parses them; an engine (:mod:`.engine` selects
:mod:`.native_engine`, the default, or :mod:`.h11_engine`) turns vetted bytes into
events; :mod:`.connection` makes the decisions (limits, keep-alive, ``100
Continue``, error responses); :mod:`.writer` serializes responses.  Nothing here
knows about applications: :mod:`crosswind.protocol.driver` connects the two.
"""
