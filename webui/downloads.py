"""Serving process definition files (BPMN, DMN) as downloads that a browser never renders.

A BPMN or DMN file is a process owner's XML; served inline as XML, an XHTML `<script>` inside
its extension elements would run in the reader's browser under opsgate's origin. Every such
download is therefore an attachment, typed without sniffing and under a sandboxing CSP, with a
file name reduced to a safe base name. (The modeler and the viewer fetch the same URLs with
fetch(), which is not affected.)
"""
from __future__ import annotations

from flask import Response

from engine.filenames import clean_filename

HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "sandbox; default-src 'none'",
}


def definition_file(text: str, filename: str) -> Response:
    """A BPMN/DMN file as an attachment named `filename` (made safe)."""
    name = clean_filename(filename).replace('"', "").replace("\\", "") or "process.bpmn"
    ascii_name = name.encode("ascii", "replace").decode().replace("?", "_")
    response = Response(text, mimetype="application/xml")
    response.headers["Content-Disposition"] = f'attachment; filename="{ascii_name}"'
    response.headers.update(HEADERS)
    return response
