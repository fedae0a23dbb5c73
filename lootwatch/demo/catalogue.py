"""Words for the synthetic registry (artefacts.csv) and for the sellers' lots.

Registry entries read like a museum's theft report; lot titles read like a seller who does not
know (or hides) what the object is, so text never gives the match away: only the photos can.
Every name here is invented for the demo.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np

COLLECTIONS = (
    "Demo Regional Archaeological Museum",
    "Lakeside Antiquities Collection",
    "St. Irene Parish Treasury",
)

REGISTRY_KIND = {
    "amphora": "neck-amphora",
    "krater": "calyx-krater",
    "hydria": "hydria",
    "bowl": "footed bowl",
    "lekythos": "lekythos",
    "jar": "storage jar",
    "oinochoe": "oinochoe",
}
REGISTRY_STYLE = {
    "black-figure": ["Attic black-figure", "Corinthian black-figure", "Chalcidian black-figure"],
    "red-figure": ["Apulian red-figure", "Attic red-figure", "Campanian red-figure"],
    "geometric": ["Late Geometric", "Cypriot bichrome", "Daunian geometric"],
    "blue-and-white": ["Cobalt-painted", "Delft-type tin-glazed", "Blue-and-white faience"],
    "turquoise": ["Turquoise-glazed", "Kashan-type glazed", "Alkaline-glazed"],
    "polychrome": ["Polychrome painted", "Iznik-type polychrome", "Maiolica"],
    "celadon": ["Celadon-glazed", "Green-glazed", "Incised celadon"],
    "slipware": ["Slip-painted", "Sgraffito slipware", "Trailed-slip"],
}
SELLER_KIND = {
    "amphora": ["amphora vase", "two-handled vase", "amphora"],
    "krater": ["large cup vase", "krater style vessel", "wide vase"],
    "hydria": ["water jar", "handled vase", "urn"],
    "bowl": ["bowl", "footed dish", "wide bowl"],
    "lekythos": ["oil flask", "small jug", "bottle vase"],
    "jar": ["jar", "pot", "storage pot"],
    "oinochoe": ["jug", "wine jug", "pitcher"],
}
SELLER_PREFIX = [
    "Antique",
    "Old",
    "Vintage",
    "Rare",
    "Beautiful",
    "Ancient style",
    "Museum quality",
    "Estate find:",
    "Collectors",
    "Hand painted",
    "19th c.",
    "Grand Tour",
]
SELLER_SUFFIX = [
    "with figures",
    "hand painted",
    "from old collection",
    "great decoration",
    "no reserve",
    "estate clearance",
    "terracotta",
    "ceramic",
    "decorative",
    "see photos",
    "",
    "",
]
SELLERS = [
    "antiquesbazaar",
    "estate_finds_77",
    "the-old-attic",
    "galerie_mistral",
    "curio.cabinet",
    "pawnstar_2000",
    "heirloom-hunters",
    "maison-broc",
    "oldworldtreasures",
    "k.dimitriou",
]
CURRENCIES = ["EUR", "EUR", "GBP", "USD", "CHF"]
MOTIF_WORDS = {
    "meander": "a key pattern",
    "zigzag": "zigzags",
    "rays": "rays",
    "tongues": "tongues",
    "dots": "dots",
    "wave": "running waves",
    "checker": "chequers",
    "scales": "scales",
    "rosettes": "rosettes",
    "chevrons": "chevrons",
    "hatched": "hatched triangles",
    "ivy": "an ivy scroll",
    "lines": "bands",
}
SCRIPT_TITLE = "Lovely painted vase <script>alert(1)</script> must go"


def registry_title(rng: np.random.Generator, style: str, kind: str) -> str:
    styles = REGISTRY_STYLE[style]
    return f"{styles[int(rng.integers(len(styles)))]} {REGISTRY_KIND[kind]}"


def _frieze_words(motifs: tuple[str, ...]) -> str:
    for m in motifs:
        if ":" in m:
            label, figures = m.split(":", 1)
            names = sorted(set(figures.split(",")))
            what = ", ".join(
                {"human": "human figures", "animal": "animals", "bird": "birds", "palmette": "palmettes"}[n]
                for n in names
            )
            return f"{what} {'in framed panels' if label == 'panels' else 'in a frieze'} on the body"
    return "a frieze on the body"


def registry_description(rng: np.random.Generator, style: str, kind: str, motifs: tuple[str, ...]) -> str:
    ornaments = sorted({MOTIF_WORDS[m] for m in motifs if m in MOTIF_WORDS})
    height = rng.uniform(14, 62)
    orn = ", ".join(ornaments[:4]) or "plain bands"
    return (
        f"{style.replace('-', ' ').capitalize()} {REGISTRY_KIND[kind]}, "
        f"decorated with {_frieze_words(motifs)}; "
        f"subsidiary bands of {orn}. H. {height:.1f} cm. Small chips to the foot."
    )


def provenance(rng: np.random.Generator, collection: str, index: int) -> str:
    year = int(rng.integers(2012, 2024))
    day = datetime(year, 1, 1) + timedelta(days=int(rng.integers(0, 365)))
    return (
        f"Stolen from the {collection} on {day:%Y-%m-%d}; theft report DEMO-TR-{year}-{index:04d} "
        "(synthetic demo record)"
    )


def seller_title(rng: np.random.Generator, kind: str) -> str:
    words = SELLER_KIND[kind]
    parts = [
        SELLER_PREFIX[int(rng.integers(len(SELLER_PREFIX)))],
        words[int(rng.integers(len(words)))],
        SELLER_SUFFIX[int(rng.integers(len(SELLER_SUFFIX)))],
    ]
    return " ".join(p for p in parts if p)


def seller_description(rng: np.random.Generator, kind: str) -> str:
    words = SELLER_KIND[kind]
    lines = [
        f"Nice old {words[0]} from a house clearance.",
        "Painted decoration all around, please look at the photos.",
        f"Height approx. {int(rng.integers(12, 60))} cm.",
        [
            "No papers, sold as seen.",
            "Ex private collection.",
            "Some wear consistent with age.",
            "Shipping worldwide, well packed.",
        ][int(rng.integers(4))],
    ]
    return " ".join(lines)


def price(rng: np.random.Generator) -> tuple[str, int, str]:
    amount = int(round(float(rng.lognormal(6.5, 0.9)) / 10) * 10) + 10
    currency = CURRENCIES[int(rng.integers(len(CURRENCIES)))]
    return f"{currency} {amount:,}", amount, currency


def end_date(rng: np.random.Generator) -> str:
    day = datetime(2025, 9, 1, 18, 0) + timedelta(days=int(rng.integers(0, 40)), hours=int(rng.integers(0, 5)))
    return f"{day:%Y-%m-%d %H:%M} UTC"


def status(rng: np.random.Generator) -> str:
    x = rng.random()
    return "open" if x < 0.8 else "sold" if x < 0.9 else "ended"
