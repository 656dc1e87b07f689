"""A check of ComicInfo.xml against the structure of the published ComicInfo 2.0 schema
(anansi-project/comicinfo, schema/v2.0/ComicInfo.xsd).

The XSD file itself is not copied here: its repository states no licence we could verify, so
this module restates the schema's structure in our own code: the root's elements in their
xs:sequence order (each at most once), the xs:int elements, the enumerated types, and the
<Page> attributes with their types. validate() returns the list of violations.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET

SEQUENCE = ("Title", "Series", "Number", "Count", "Volume", "AlternateSeries", "AlternateNumber",
            "AlternateCount", "Summary", "Notes", "Year", "Month", "Day", "Writer", "Penciller", "Inker",
            "Colorist", "Letterer", "CoverArtist", "Editor", "Publisher", "Imprint", "Genre", "Web",
            "PageCount", "LanguageISO", "Format", "BlackAndWhite", "Manga", "Characters", "Teams",
            "Locations", "ScanInformation", "StoryArc", "SeriesGroup", "AgeRating", "Pages", "CommunityRating")
INTEGERS = {"Count", "Volume", "AlternateCount", "Year", "Month", "Day", "PageCount"}
ENUMS = {"BlackAndWhite": {"Unknown", "No", "Yes"}, "Manga": {"Unknown", "No", "Yes", "YesAndRightToLeft"}}
PAGE_TYPES = {"FrontCover", "InnerCover", "Roundup", "Story", "Advertisement", "Editorial", "Letters",
              "Preview", "BackCover", "Other", "Deleted"}
PAGE_ATTRIBUTES = {"Image": "int", "Type": "types", "DoublePage": "bool", "ImageSize": "int", "Key": "str",
                   "Bookmark": "str", "ImageWidth": "int", "ImageHeight": "int"}


def _is_int(text: str | None) -> bool:
    try:
        int(text or "")
        return True
    except ValueError:
        return False


def validate(xml: bytes) -> list[str]:
    """Every way the document departs from the ComicInfo 2.0 schema ([] when it is valid)."""
    root = ET.fromstring(xml)
    errors = [] if root.tag == "ComicInfo" else [f"root is <{root.tag}>, not <ComicInfo>"]
    order = [child.tag for child in root]
    unknown = [tag for tag in order if tag not in SEQUENCE]
    errors += [f"<{tag}> is not a ComicInfo element" for tag in unknown]
    known = [SEQUENCE.index(tag) for tag in order if tag in SEQUENCE]
    if known != sorted(known) or len(set(known)) != len(known):
        errors.append(f"elements out of the schema's order or repeated: {order}")
    for child in root:
        if child.tag in INTEGERS and not _is_int(child.text):
            errors.append(f"<{child.tag}> must be an integer, got {child.text!r}")
        if child.tag in ENUMS and child.text not in ENUMS[child.tag]:
            errors.append(f"<{child.tag}> must be one of {sorted(ENUMS[child.tag])}, got {child.text!r}")
    for page in root.iterfind("Pages/*"):
        errors += _page_errors(page)
    return errors


def _page_errors(page: ET.Element) -> list[str]:
    if page.tag != "Page":
        return [f"<Pages> holds <{page.tag}>, only <Page> is allowed"]
    errors = [] if "Image" in page.attrib else ["<Page> lacks its required Image attribute"]
    for name, value in page.attrib.items():
        kind = PAGE_ATTRIBUTES.get(name)
        if kind is None:
            errors.append(f"<Page> has no attribute {name!r}")
        elif kind == "int" and not _is_int(value):
            errors.append(f"<Page {name}> must be an integer, got {value!r}")
        elif kind == "types" and not set(value.split()) <= PAGE_TYPES:
            errors.append(f"<Page Type> {value!r} is not a list of ComicPageType values")
        elif kind == "bool" and value not in ("true", "false", "1", "0"):
            errors.append(f"<Page DoublePage> must be a boolean, got {value!r}")
    return errors
