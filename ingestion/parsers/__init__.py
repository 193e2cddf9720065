"""Turn an upload's bytes into a title and heading-scoped sections of text and table blocks.

One module per format; every parser returns the same `Section`s, so chunking never needs to know the format.
"""

from ingestion.parsers.dispatch import EMPTY_MESSAGE, EMPTY_MESSAGES, PARSERS, parse_document
from ingestion.parsers.model import Block, ParsedDocument, ParseLimits, Section
from ingestion.parsers.text import normalise

__all__ = [
    "EMPTY_MESSAGE",
    "EMPTY_MESSAGES",
    "PARSERS",
    "Block",
    "ParseLimits",
    "ParsedDocument",
    "Section",
    "normalise",
    "parse_document",
]
