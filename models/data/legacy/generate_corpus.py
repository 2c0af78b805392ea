#!/usr/bin/env python3
"""Build finsentry's labelled financial-sentiment corpus (train.csv / test.csv).

Everything here is written for this project: the sentence frames live in
``models/data/legacy/sources/*.txt`` (hand-written, one frame per line) and the slot
vocabularies (fictional companies, people, numbers ...) are defined below.
No public data set was copied or consulted as a source of sentences.

Frame file syntax (see sources/*.txt):
  ``# ...``                    comment line
  ``@ <label> <style> <topics>`` starts a section (topics separated by ``;``)
  ``text``                     one frame = one split group
  ``~ text``                   paraphrase: joins the previous frame's group
  ``text || t1;t2``            overrides the section's topics for this frame
  ``[a|b|]``                   pick one alternative (empty = drop)
  ``{slot}``                   filled from the generators in ``Ctx``

Rows are produced round-robin over the frames of each label until the label
target is reached, exact (case-insensitive) duplicates are dropped, and the
train/test split is made by *group* (a frame plus its ``~`` paraphrases), so
the same template with different names/numbers never straddles the split.
The split is stratified by (label, style).

Usage:  python models/data/legacy/generate_corpus.py [--update-readme]
Deterministic: fixed SEED, stdlib only.

Why one long file: it is a frozen, stand-alone build script, not part of the
finsentry package (nothing imports it), and most of its length is the slot
vocabularies, which read best as one list each next to the generator that
uses them. Splitting it would only spread one data recipe over several files.
"""

from __future__ import annotations

import argparse
import csv
import math
import random
import re
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

SEED = 20240611
HERE = Path(__file__).resolve().parent
SOURCES = HERE / "sources"
TRAIN_CSV = HERE / "train.csv"
TEST_CSV = HERE / "test.csv"
README = HERE / "README.md"

LABELS = ("negative", "neutral", "positive")
STYLES = ("wire_headline", "press_release", "analyst_action", "cashtag_tweet", "macro")
TOPICS = (
    "earnings",
    "guidance",
    "analyst_rating",
    "credit_debt",
    "m_and_a",
    "litigation_regulation",
    "labor",
    "product_operations",
    "macro_central_bank",
    "markets",
    "capital_return",
    "management",
)
TARGET_TOTAL = 4200
LABEL_SHARE = {"neutral": 0.57, "positive": 0.225, "negative": 0.205}
TEST_SHARE = 0.18
MAX_PER_FRAME = 14

# --------------------------------------------------------------------------
# Slot vocabularies (all invented for the project, or generic public names of
# institutions such as central banks, indices, brokers, rating agencies).
# --------------------------------------------------------------------------
COMPANY_STEMS = [
    "Northwind",
    "Halvard",
    "Kestrel",
    "Brightwater",
    "Lumivaara",
    "Tervala",
    "Kallioinen",
    "Vireo",
    "Aldmoor",
    "Ashgrove",
    "Deltamar",
    "Ekolund",
    "Fjellvik",
    "Granholm",
    "Harjula",
    "Ilmarin",
    "Jarvela",
    "Koskenmaa",
    "Larkspur",
    "Meridel",
    "Norrvik",
    "Oakhaven",
    "Pellervo",
    "Quarrystone",
    "Ravenfield",
    "Saarento",
    "Talvikki",
    "Umberfield",
    "Valkama",
    "Westmarch",
    "Ylivuori",
    "Zephyra",
    "Arcton",
    "Bellweather",
    "Dunmore",
    "Eastholm",
    "Fernwood",
    "Greyfield",
    "Hollins",
    "Ironbridge",
    "Kaarna",
    "Lindvall",
    "Mistral",
    "Nordhaven",
    "Ostrander",
    "Pinecrest",
    "Quillon",
    "Rautio",
    "Silverline",
    "Tammela",
    "Varmo",
    "Wrenfield",
    "Yarrow",
    "Zellner",
    "Alderbank",
    "Brantley",
    "Crestmoor",
    "Dalvik",
    "Elmsworth",
    "Fennica",
    "Glasshouse",
    "Hartwell",
    "Isomaa",
    "Juvonen",
    "Kivimaki",
    "Moorcroft",
    "Nevalainen",
    "Orrin",
    "Palosaari",
    "Quintara",
    "Redhill",
    "Stellan",
    "Torvald",
    "Uppsjo",
    "Vantera",
    "Axelsson",
    "Birchmont",
    "Corvid",
    "Evergrain",
    "Falconer",
    "Gildmore",
    "Ivarsson",
    "Kettlewell",
    "Lodestar",
    "Marwick",
    "Nimbus",
    "Pernica",
    "Rindell",
    "Sandvold",
    "Thornbury",
    "Valtara",
    "Wexley",
    "Aurelion",
    "Bayridge",
    "Coldharbour",
    "Dovetail",
    "Emberly",
    "Foxley",
    "Greenhaven",
    "Halden",
    "Invergate",
    "Kolari",
    "Lakemont",
    "Millbrook",
    "Norsen",
    "Ovaska",
    "Rosendahl",
    "Solberg",
    "Tidemark",
    "Unison",
    "Verdant",
    "Wolfram",
    "Yellowpine",
    "Zinnia",
    "Aavasaksa",
    "Brookfell",
    "Carrowmore",
    "Drumlin",
    "Eskola",
    "Frostby",
    "Hakala",
    "Ketola",
    "Lumen",
    "Marjala",
    "Nurmela",
    "Oldcastle",
    "Pyhala",
    "Riverside",
    "Sorvari",
    "Tuulikki",
    "Vesterby",
    "Alvar",
    "Boreon",
    "Cindral",
    "Dunholt",
    "Ekman",
    "Fairbourne",
    "Gravitas",
    "Helmsley",
    "Innola",
    "Jokinen",
    "Kaleva",
    "Linnea",
    "Moreland",
    "Nystad",
    "Orion",
    "Paavola",
    "Ranta",
    "Selkirk",
    "Tornio",
    "Uusimaa",
    "Virtanen",
    "Wendell",
]

SECTOR_WORDS = [
    "Paper",
    "Steel",
    "Foods",
    "Energy",
    "Pharma",
    "Systems",
    "Technologies",
    "Logistics",
    "Mining",
    "Telecom",
    "Bank",
    "Insurance",
    "Retail",
    "Marine",
    "Chemicals",
    "Software",
    "Networks",
    "Biotech",
    "Motors",
    "Industries",
    "Capital",
    "Media",
    "Solutions",
    "Group",
    "Holdings",
    "Metals",
    "Power",
]

# nationality, display adjectives, legal suffixes, currency, weight
NATIONS = [
    ("Finnish", ["Finnish"], ["Oyj", "Oyj", "Oyj", "Plc", "Oyj Abp", "Corporation"], "EUR", 30),
    ("Swedish", ["Swedish"], ["AB", "AB", "Group AB"], "SEK", 12),
    ("Norwegian", ["Norwegian"], ["ASA"], "NOK", 6),
    ("Danish", ["Danish"], ["A/S"], "DKK", 5),
    ("Estonian", ["Estonian"], ["AS"], "EUR", 3),
    ("German", ["German"], ["AG", "AG", "SE"], "EUR", 8),
    ("Dutch", ["Dutch"], ["N.V.", "NV"], "EUR", 4),
    ("French", ["French"], ["SA", "S.A."], "EUR", 4),
    ("British", ["British", "UK"], ["plc", "PLC", "Group plc"], "GBP", 10),
    (
        "US",
        ["US", "U.S.", "US-based"],
        ["Inc.", "Corp.", "Inc", "Corporation", "Holdings Inc."],
        "USD",
        22,
    ),
]

FIRST_NAMES = [
    "Anna",
    "Mikko",
    "Jukka",
    "Sofia",
    "Mark",
    "Laura",
    "Pekka",
    "Johanna",
    "Erik",
    "Ingrid",
    "Lars",
    "Maria",
    "Kari",
    "Tiina",
    "Henrik",
    "Elina",
    "Daniel",
    "Sarah",
    "Thomas",
    "Katja",
    "Olli",
    "Heidi",
    "Marcus",
    "Petra",
    "Juha",
    "Sanna",
    "Matti",
    "Emma",
    "Jonas",
    "Kristiina",
    "Ville",
    "Linda",
    "Michael",
    "Jennifer",
    "David",
    "Susan",
    "Robert",
    "Claire",
    "Peter",
    "Helena",
    "Timo",
    "Riikka",
    "Anders",
    "Karin",
    "Magnus",
    "Astrid",
    "Stefan",
    "Julia",
    "Martin",
    "Camille",
    "Pierre",
    "Jan",
    "Eva",
    "Tomas",
    "Ewa",
    "Piotr",
    "Akira",
    "Priya",
    "Rahul",
    "Carlos",
    "Lucia",
    "Omar",
    "Aino",
    "Sami",
    "Nina",
]
LAST_NAMES = [
    "Virtanen",
    "Korhonen",
    "Holloway",
    "Lindqvist",
    "Berg",
    "Nieminen",
    "Makela",
    "Hamalainen",
    "Laine",
    "Heikkinen",
    "Koskinen",
    "Jarvinen",
    "Lehtonen",
    "Saarinen",
    "Andersson",
    "Johansson",
    "Nilsson",
    "Eriksson",
    "Larsen",
    "Hansen",
    "Pedersen",
    "Schmidt",
    "Weber",
    "Fischer",
    "Dubois",
    "Moreau",
    "Smith",
    "Walker",
    "Turner",
    "Bennett",
    "Carter",
    "Hughes",
    "Foster",
    "Reed",
    "Ward",
    "Brooks",
    "Price",
    "Collins",
    "Sato",
    "Tanaka",
    "Kowalski",
    "Novak",
    "Rossi",
    "Garcia",
    "Lopez",
    "Ahonen",
    "Salonen",
    "Rantanen",
    "Kallio",
    "Toivonen",
    "Aalto",
    "Lindholm",
    "Strand",
    "Ek",
    "Sundberg",
    "Wallin",
    "Harmon",
    "Whitfield",
    "Ashby",
    "Crane",
    "Marlow",
]

ROLES = [
    "CEO",
    "chief executive officer",
    "President and CEO",
    "chief financial officer",
    "CFO",
    "chief operating officer",
    "COO",
    "Senior Vice President, Sales",
    "executive vice president",
    "managing director",
    "head of investor relations",
    "chief technology officer",
    "chief commercial officer",
    "general counsel",
    "director of the {segment} business area",
    "head of the {segment} division",
]

PRODUCTS = [
    "paperboard",
    "industrial valves",
    "mobile network equipment",
    "payment terminals",
    "wind turbine components",
    "forest machines",
    "elevators",
    "power cables",
    "frozen foods",
    "dairy products",
    "specialty chemicals",
    "steel pipes",
    "container cranes",
    "marine engines",
    "diagnostic tests",
    "generic medicines",
    "enterprise software",
    "cloud services",
    "fibre broadband",
    "plywood",
    "sawn timber",
    "packaging materials",
    "lighting solutions",
    "ventilation systems",
    "security services",
    "bakery products",
    "beverages",
    "automotive parts",
    "printed circuit boards",
    "sensors",
    "medical imaging systems",
    "hearing aids",
    "office furniture",
    "consumer electronics",
    "mining equipment",
    "water treatment systems",
    "fertilisers",
    "biofuels",
    "precision instruments",
    "tissue paper",
    "flooring",
    "insulation materials",
    "logistics services",
    "construction services",
    "lithium-ion batteries",
    "semiconductors",
    "data-centre equipment",
    "ready meals",
    "pet food",
    "technical textiles",
    "cosmetics",
    "mobile games",
    "adhesives",
    "industrial coatings",
    "aluminium profiles",
    "billing software",
    "rail vehicles",
    "hydraulic cylinders",
    "forklift trucks",
    "heat pumps",
    "solar inverters",
    "ship repair services",
]
CUSTOMERS = [
    "telecom operators",
    "the pulp and paper industry",
    "construction companies",
    "retail chains",
    "the automotive industry",
    "utilities",
    "hospitals",
    "the mining industry",
    "shipyards",
    "food manufacturers",
    "public sector organisations",
    "banks and insurers",
    "oil and gas companies",
    "consumers",
    "the forest industry",
    "municipalities",
    "data-centre operators",
    "the electronics industry",
    "airlines",
    "industrial customers",
]
SEGMENTS = [
    "Packaging",
    "Industrial",
    "Services",
    "Consumer",
    "Retail",
    "Energy",
    "Cloud",
    "Marine",
    "Paper",
    "Wood Products",
    "Healthcare",
    "Networks",
    "Automotive",
    "Building Solutions",
    "Logistics",
    "Chemicals",
    "Software",
    "Mobility",
    "Power",
    "Pulp",
    "Metals",
    "Food",
    "Digital",
    "Equipment",
]
REGIONS = [
    "the Nordic countries",
    "the Baltic countries",
    "Russia",
    "Central Europe",
    "Eastern Europe",
    "North America",
    "Asia",
    "China",
    "the Asia-Pacific region",
    "Latin America",
    "the Middle East",
    "Western Europe",
    "Germany",
    "the US",
    "the UK",
    "Scandinavia",
    "Southern Europe",
    "India",
]
COUNTRIES = [
    "Finland",
    "Sweden",
    "Norway",
    "Denmark",
    "Estonia",
    "Latvia",
    "Lithuania",
    "Poland",
    "Germany",
    "the Netherlands",
    "France",
    "Spain",
    "Italy",
    "the UK",
    "the US",
    "Canada",
    "Brazil",
    "China",
    "India",
    "Japan",
    "Russia",
    "Turkey",
    "Mexico",
    "Vietnam",
    "Czech Republic",
    "Romania",
]
CITIES = [
    "Helsinki",
    "Espoo",
    "Tampere",
    "Oulu",
    "Turku",
    "Vaasa",
    "Lahti",
    "Kuopio",
    "Jyvaskyla",
    "Pori",
    "Kotka",
    "Stockholm",
    "Gothenburg",
    "Malmo",
    "Oslo",
    "Bergen",
    "Copenhagen",
    "Aarhus",
    "Tallinn",
    "Riga",
    "Vilnius",
    "Warsaw",
    "Gdansk",
    "Hamburg",
    "Munich",
    "Frankfurt",
    "Rotterdam",
    "Amsterdam",
    "Lyon",
    "Barcelona",
    "Milan",
    "London",
    "Manchester",
    "Chicago",
    "Houston",
    "Atlanta",
    "Toronto",
    "Sao Paulo",
    "Shanghai",
    "Shenzhen",
    "Pune",
    "Chennai",
    "St Petersburg",
    "Istanbul",
    "Monterrey",
    "Brno",
]
EXCHANGES = [
    "Nasdaq Helsinki",
    "the Helsinki Stock Exchange",
    "OMX Helsinki",
    "Nasdaq Stockholm",
    "the Oslo Stock Exchange",
    "Nasdaq Copenhagen",
    "the London Stock Exchange",
    "the New York Stock Exchange",
    "the Nasdaq",
    "Euronext Paris",
    "the Frankfurt Stock Exchange",
    "First North Helsinki",
    "Euronext Amsterdam",
    "Nasdaq Tallinn",
]
BROKERS = [
    "Goldman Sachs",
    "Goldman",
    "Morgan Stanley",
    "JPMorgan",
    "JP Morgan",
    "BofA",
    "Bank of America",
    "Citi",
    "Citigroup",
    "UBS",
    "Barclays",
    "Jefferies",
    "Deutsche Bank",
    "Evli",
    "Inderes",
    "SEB",
    "Nordea Markets",
    "Carnegie",
    "Danske Bank Markets",
    "Handelsbanken",
    "DNB Markets",
    "Pareto",
    "Berenberg",
    "Kepler Cheuvreux",
    "Raymond James",
    "Piper Sandler",
    "Wedbush",
    "Needham",
    "KeyBanc",
    "Stifel",
    "Oppenheimer",
    "Mizuho",
    "Bernstein",
    "RBC",
    "RBC Capital",
    "BMO",
    "Wells Fargo",
    "Truist",
    "HSBC",
    "Exane BNP Paribas",
    "Credit Suisse",
    "Macquarie",
    "Baird",
    "Cowen",
    "Canaccord",
    "Liberum",
    "Peel Hunt",
    "Numis",
    "Harbor Lane Capital",
    "Ostrava Securities",
    "Nordhavn Equities",
    "Keystone Research",
]
R_BUY = [
    "Buy",
    "Outperform",
    "Overweight",
    "Strong Buy",
    "Accumulate",
    "Add",
    "Sector Outperform",
    "Positive",
    "Conviction Buy",
]
R_HOLD = [
    "Hold",
    "Neutral",
    "Equal Weight",
    "Market Perform",
    "Sector Perform",
    "In Line",
    "Equal-weight",
    "Peer Perform",
]
R_SELL = [
    "Sell",
    "Underperform",
    "Underweight",
    "Reduce",
    "Sector Underperform",
    "Negative",
    "Strong Sell",
]
AGENCIES = [
    ("Moody's", "m"),
    ("Moody's Investors Service", "m"),
    ("S&P", "s"),
    ("Standard & Poor's", "s"),
    ("S&P Global Ratings", "s"),
    ("Fitch", "s"),
    ("Fitch Ratings", "s"),
]
SCALE_S = [
    "AA-",
    "A+",
    "A",
    "A-",
    "BBB+",
    "BBB",
    "BBB-",
    "BB+",
    "BB",
    "BB-",
    "B+",
    "B",
    "B-",
    "CCC+",
]
SCALE_M = [
    "Aa3",
    "A1",
    "A2",
    "A3",
    "Baa1",
    "Baa2",
    "Baa3",
    "Ba1",
    "Ba2",
    "Ba3",
    "B1",
    "B2",
    "B3",
    "Caa1",
]
REGULATORS = [
    "the FDA",
    "the US Food and Drug Administration",
    "the European Medicines Agency",
    "the European Commission",
    "the SEC",
    "the Finnish Financial Supervisory Authority",
    "the Finnish Competition and Consumer Authority",
    "the UK Competition and Markets Authority",
    "the Financial Conduct Authority",
    "the US Department of Justice",
    "the Federal Trade Commission",
    "Germany's Federal Cartel Office",
    "the Swedish Competition Authority",
    "the EU antitrust regulator",
]
DRUG_REGULATORS = [
    "the FDA",
    "the US Food and Drug Administration",
    "the European Medicines Agency",
    "the EMA",
    "the European Commission",
    "Japan's PMDA",
    "the UK MHRA",
    "Health Canada",
]
DRUG_REG_SHORT = ["FDA", "EMA", "EU", "MHRA", "FDA", "FDA"]
REG_SHORT = ["FDA", "EU", "SEC", "FTC", "CMA", "DOJ", "EMA", "FCA", "antitrust"]
DRUGS = [
    "zelvatinib",
    "orvanumab",
    "cardiprex",
    "tenoflazine",
    "maribatide",
    "lumiracept",
    "dextravir",
    "neurolast",
    "bexofant",
    "pralunib",
    "solvexa",
    "imtrelimab",
    "ravoprazine",
    "kelvocort",
]
CENTRAL_BANKS = [
    "Fed",
    "Federal Reserve",
    "The Fed",
    "ECB",
    "European Central Bank",
    "Bank of England",
    "BoE",
    "Bank of Japan",
    "BOJ",
    "Riksbank",
    "Norges Bank",
    "Swiss National Bank",
    "SNB",
    "Bank of Canada",
    "RBA",
    "Reserve Bank of Australia",
    "RBI",
    "PBOC",
    "Reserve Bank of New Zealand",
]
ECON_ADJ = [
    "US",
    "U.S.",
    "UK",
    "Euro zone",
    "Eurozone",
    "Euro area",
    "German",
    "French",
    "Chinese",
    "Japanese",
    "Canadian",
    "Swedish",
    "Finnish",
    "Italian",
    "Spanish",
    "Australian",
    "Norwegian",
    "Dutch",
]
ECON_NOUN = [
    "the US",
    "Britain",
    "the euro zone",
    "Germany",
    "France",
    "China",
    "Japan",
    "Canada",
    "Sweden",
    "Finland",
    "Italy",
    "Spain",
    "Australia",
    "the UK",
    "the euro area",
    "Norway",
]
INDICES = [
    "S&P 500",
    "Nasdaq",
    "Dow",
    "Dow Jones",
    "Stoxx 600",
    "STOXX 600",
    "FTSE 100",
    "DAX",
    "CAC 40",
    "OMX Helsinki 25",
    "OMXS30",
    "Nikkei",
    "Hang Seng",
    "Russell 2000",
    "MSCI World",
    "Euro Stoxx 50",
    "FTSE 250",
    "Nasdaq Composite",
    "Stockholm benchmark index",
]
SECTORS = [
    "tech",
    "bank",
    "energy",
    "mining",
    "healthcare",
    "retail",
    "auto",
    "chip",
    "travel",
    "utility",
    "real estate",
    "luxury",
    "insurance",
    "telecom",
    "industrial",
    "defence",
]
CUR_NAMES = [
    "yen",
    "lira",
    "rand",
    "pound",
    "euro",
    "rouble",
    "won",
    "peso",
    "krona",
    "rupee",
    "forint",
    "zloty",
]
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
MONTHS_SHORT = [
    "Jan",
    "Feb",
    "March",
    "April",
    "May",
    "June",
    "July",
    "Aug",
    "Sept",
    "Oct",
    "Nov",
    "Dec",
]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
ORD = ["first", "second", "third", "fourth"]

# Money formats per currency. {v} = number. Styles: press / wire / tweet.
MONEY_FMT = {
    "EUR": {
        "mn": {
            "press": [
                "EUR {v} mn",
                "EUR {v} million",
                "EUR{v}m",
                "EUR {v}m",
                "EUR {v} mln",
                "{v} million euros",
                "EUR {v} mn",
            ],
            "wire": [
                "€{v} million",
                "€{v}m",
                "{v} million euros",
                "EUR {v} mln",
                "€{v} mln",
                "EUR {v} million",
            ],
            "tweet": ["€{v}M", "€{v}m", "EUR {v}M", "€{v} mln"],
        },
        "bn": {
            "press": ["EUR {v} bn", "EUR {v} billion", "EUR{v}bn", "{v} billion euros"],
            "wire": ["€{v} billion", "€{v}bn", "€{v} bln", "{v} billion euros"],
            "tweet": ["€{v}B", "€{v}bn", "EUR {v}B"],
        },
        "k": ["EUR {v}", "EUR {v}", "€{v}"],
    },
    "USD": {
        "mn": {
            "press": [
                "USD {v} mn",
                "USD {v} million",
                "$ {v} mn",
                "$ {v} million",
                "US$ {v} million",
                "$ {v}m",
            ],
            "wire": ["${v} million", "${v}m", "${v} mln", "$ {v} million", "US${v} million"],
            "tweet": ["${v}M", "${v}mm", "${v}m", "${v}M"],
        },
        "bn": {
            "press": ["USD {v} bn", "USD {v} billion", "$ {v} billion", "$ {v} bn"],
            "wire": ["${v} billion", "${v}bn", "${v} bln", "${v}B"],
            "tweet": ["${v}B", "${v}bn", "${v}B"],
        },
        "k": ["USD {v}", "${v}", "$ {v}"],
    },
    "GBP": {
        "mn": {
            "press": ["GBP {v} mn", "GBP {v} million", "£{v} million", "£{v}m"],
            "wire": ["£{v}m", "£{v} million", "£{v} mln", "GBP {v} mln"],
            "tweet": ["£{v}m", "£{v}M"],
        },
        "bn": {
            "press": ["GBP {v} bn", "£{v} billion", "£{v}bn"],
            "wire": ["£{v}bn", "£{v} billion", "£{v} bln"],
            "tweet": ["£{v}bn", "£{v}B"],
        },
        "k": ["GBP {v}", "£{v}"],
    },
    "SEK": {
        "mn": {
            "press": ["SEK {v} mn", "SEK {v} million", "SEK {v}m", "{v} million Swedish crowns"],
            "wire": ["SEK {v} million", "{v} million Swedish crowns", "{v} mln crowns", "SEK {v}m"],
            "tweet": ["SEK {v}M", "SEK {v}m"],
        },
        "bn": {
            "press": ["SEK {v} bn", "SEK {v} billion", "{v} billion Swedish crowns"],
            "wire": ["{v} billion crowns", "SEK {v} billion", "SEK {v}bn"],
            "tweet": ["SEK {v}B", "SEK {v}bn"],
        },
        "k": ["SEK {v}"],
    },
    "NOK": {
        "mn": {
            "press": ["NOK {v} mn", "NOK {v} million", "NOK {v}m", "{v} million Norwegian crowns"],
            "wire": ["NOK {v} million", "{v} million Norwegian crowns", "{v} mln crowns"],
            "tweet": ["NOK {v}M", "NOK {v}m"],
        },
        "bn": {
            "press": ["NOK {v} bn", "NOK {v} billion"],
            "wire": ["{v} billion Norwegian crowns", "NOK {v} billion", "NOK {v}bn"],
            "tweet": ["NOK {v}B", "NOK {v}bn"],
        },
        "k": ["NOK {v}"],
    },
    "DKK": {
        "mn": {
            "press": ["DKK {v} mn", "DKK {v} million", "DKK {v}m", "{v} million Danish crowns"],
            "wire": ["DKK {v} million", "{v} million Danish crowns", "{v} mln crowns"],
            "tweet": ["DKK {v}M", "DKK {v}m"],
        },
        "bn": {
            "press": ["DKK {v} bn", "DKK {v} billion"],
            "wire": ["{v} billion Danish crowns", "DKK {v} billion", "DKK {v}bn"],
            "tweet": ["DKK {v}B", "DKK {v}bn"],
        },
        "k": ["DKK {v}"],
    },
}
CUR_SCALE = {"EUR": 1.0, "USD": 1.1, "GBP": 0.85, "SEK": 11.0, "NOK": 11.0, "DKK": 7.5}
PRICE_FMT = {
    "EUR": ["EUR {v}", "EUR{v}", "€{v}", "EUR {v}"],
    "USD": ["${v}", "${v}", "USD {v}", "$ {v}"],
    "GBP": ["{p}p", "£{v}", "{p} pence", "{p}p"],
    "SEK": ["SEK {v}", "{v} crowns", "SEK{v}"],
    "NOK": ["NOK {v}", "{v} crowns", "NOK{v}"],
    "DKK": ["DKK {v}", "{v} crowns", "DKK{v}"],
}


def style_family(style: str) -> str:
    if style == "press_release":
        return "press"
    if style == "cashtag_tweet":
        return "tweet"
    return "wire"


@dataclass(frozen=True)
class Company:
    full: str
    short: str
    ticker: str
    nat_key: str
    nat_forms: tuple
    currency: str


def build_companies(rng: random.Random) -> list[Company]:
    weights = [n[4] for n in NATIONS]
    used = set()
    out = []
    for stem in COMPANY_STEMS:
        nat = rng.choices(NATIONS, weights=weights)[0]
        key, forms, suffixes, cur, _ = nat
        sector = rng.choice(SECTOR_WORDS) if rng.random() < 0.45 else ""
        suffix = rng.choice(suffixes)
        if sector in ("Group", "Holdings") and "Group" in suffix:
            suffix = "plc"
        full = " ".join(x for x in (stem, sector, suffix) if x)
        short = stem if (not sector or rng.random() < 0.7) else f"{stem} {sector}"
        letters = re.sub(r"[^A-Za-z]", "", stem).upper()
        cons = letters[0] + re.sub(r"[AEIOUY]", "", letters[1:])
        cands = [
            letters[:4],
            cons[:4],
            letters[:3],
            cons[:3],
            letters[:2] + (sector[:2].upper() if sector else "X"),
            letters[0] + letters[2:5],
            letters[:5],
        ]
        ticker = next((c for c in cands if len(c) >= 2 and c not in used), None)
        while ticker is None or ticker in used:
            ticker = letters[:3] + rng.choice("ABCDEFGHJKLMNPRSTVWXZ")
        used.add(ticker)
        out.append(Company(full, short, ticker, key, tuple(forms), cur))
    return out


def loguniform(rng, lo, hi):
    return math.exp(rng.uniform(math.log(lo), math.log(hi)))


def nice_count(rng, lo, hi, commas=True):
    v = loguniform(rng, lo, hi)
    if v >= 1000:
        v = round(v, -2) if rng.random() < 0.7 else round(v, -1)
    elif v >= 100:
        v = round(v, -1) if rng.random() < 0.7 else round(v)
    elif v >= 30:
        v = round(v / 5) * 5 if rng.random() < 0.6 else round(v)
    v = int(max(v, lo))
    return f"{v:,}" if commas and rng.random() < 0.85 else str(v)


def fmt_dec(v, decimals):
    s = f"{v:,.{decimals}f}"
    return s


class Ctx(dict):
    """Lazily generated slot values for one row; same key -> same value."""

    def __init__(self, rng: random.Random, style: str, companies: list[Company]):
        super().__init__()
        self.rng = rng
        self.style = style
        self.fam = style_family(style)
        self.companies = companies
        self._ent = {}
        self._used = defaultdict(set)
        self.year = rng.choice(list(range(2006, 2012)) * 2 + list(range(2012, 2025)))

    # -- entities -----------------------------------------------------------
    def ent(self, idx: str) -> Company:
        if idx not in self._ent:
            taken = {c.full for c in self._ent.values()}
            while True:
                c = self.rng.choice(self.companies)
                if c.full not in taken:
                    break
            self._ent[idx] = c
        return self._ent[idx]

    def currency(self):
        if "_cur" not in self:
            c = self.ent("")
            r = self.rng.random()
            if r < 0.7:
                cur = c.currency
            elif r < 0.88:
                cur = "EUR"
            else:
                cur = "USD"
            if self.fam == "tweet" and self.rng.random() < 0.7:
                cur = "USD"
            self["_cur"] = cur
        return self["_cur"]

    def pick_unique(self, base, pool):
        for _ in range(20):
            v = self.rng.choice(pool)
            if v not in self._used[base]:
                break
        self._used[base].add(v)
        return v

    # -- numbers ------------------------------------------------------------
    def money_str(self, mn_values, cur=None):
        rng = self.rng
        cur = cur or self.currency()
        scale = CUR_SCALE[cur]
        vals = [v * scale for v in mn_values]
        top = max(vals)
        fmts = MONEY_FMT[cur]
        if top < 1.0 and rng.random() < 0.6:
            f = rng.choice(fmts["k"])
            return [f.replace("{v}", f"{int(round(v * 1_000_000, -3)):,}") for v in vals]
        if top >= 1000 and rng.random() < 0.85:
            vals = [v / 1000 for v in vals]
            dec = 1 if rng.random() < 0.7 else 2
            f = rng.choice(fmts["bn"][self.fam])
        else:
            if top >= 100:
                dec = 0 if rng.random() < 0.75 else 1
            elif top >= 10:
                dec = 1 if rng.random() < 0.7 else 0
            else:
                dec = 1 if rng.random() < 0.6 else 2
            f = rng.choice(fmts["mn"][self.fam])
        return [f.replace("{v}", fmt_dec(v, dec)) for v in vals]

    def pct_fmt(self):
        rng = self.rng
        if self.fam == "press":
            return rng.choice(
                ["{v} %", "{v} %", "{v}%", "{v}%", "{v} percent", "{v} per cent", "{v} pct"]
            )
        if self.fam == "tweet":
            return "{v}%"
        return rng.choice(["{v}%", "{v}%", "{v}%", "{v} pct", "{v} percent"])

    def pct_str(self, v, decimals=None, fmt=None):
        rng = self.rng
        if decimals is None:
            if self.fam == "press":
                decimals = 1 if rng.random() < 0.8 else 0
            else:
                decimals = 0 if (v >= 5 and rng.random() < 0.6) else 1
        return (fmt or self.pct_fmt()).replace("{v}", fmt_dec(v, decimals))

    def price_str(self, values, cur=None):
        rng = self.rng
        cur = cur or self.currency()
        if self.fam == "tweet" and rng.random() < 0.8:
            cur = "USD"
        f = rng.choice(PRICE_FMT[cur])
        out = []
        top = max(values)
        dec = 0 if top >= 30 else (1 if rng.random() < 0.5 else 2)
        for v in values:
            s = f.replace("{v}", fmt_dec(v, dec)).replace("{p}", f"{int(round(v * 100)):,}")
            out.append(s)
        return out

    # -- main dispatch --------------------------------------------------------
    def __missing__(self, key):
        m = re.fullmatch(r"([a-zA-Z_]+?)(\d*)", key)
        base, idx = m.group(1), m.group(2)
        val = self.gen(base, idx, key)
        if val is None:
            raise KeyError(f"unknown slot {{{key}}}")
        if key not in self:
            self[key] = val
        return self[key]

    def pair(self, key_hi, key_lo, hi, lo):
        self[key_hi], self[key_lo] = hi, lo

    def gen(self, base, idx, key):
        rng = self.rng
        # companies
        if base in ("co", "co_s", "tk", "TK", "nat"):
            c = self.ent(idx)
            if base == "co":
                return c.full
            if base == "co_s":
                return c.short
            if base == "tk":
                return "$" + c.ticker
            if base == "TK":
                return c.ticker
            return rng.choice(c.nat_forms)
        if base == "person":
            for _ in range(20):
                p = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
                if p not in self._used["person"]:
                    break
            self._used["person"].add(p)
            return p
        if base == "role":
            r = self.pick_unique("role", ROLES)
            return r.replace("{segment}", rng.choice(SEGMENTS))
        simple = {
            "product": PRODUCTS,
            "customer": CUSTOMERS,
            "segment": SEGMENTS,
            "region": REGIONS,
            "country": COUNTRIES,
            "city": CITIES,
            "exchange": EXCHANGES,
            "broker": BROKERS,
            "r_buy": R_BUY,
            "r_hold": R_HOLD,
            "r_sell": R_SELL,
            "regulator": REGULATORS,
            "reg_s": REG_SHORT,
            "drug": DRUGS,
            "drug_reg": DRUG_REGULATORS,
            "drug_reg_s": DRUG_REG_SHORT,
            "cb": CENTRAL_BANKS,
            "econ": ECON_ADJ,
            "econ_n": ECON_NOUN,
            "index": INDICES,
            "sector": SECTORS,
            "cur_name": CUR_NAMES,
            "month": MONTHS,
            "weekday": WEEKDAYS,
        }
        if base in simple:
            return self.pick_unique(base, simple[base])
        if base in ("agency", "cr_hi", "cr_lo"):
            name, kind = rng.choice(AGENCIES)
            scale = SCALE_M if kind == "m" else SCALE_S
            i = rng.randrange(1, len(scale) - 2)
            step = 1 if rng.random() < 0.7 else 2
            self["agency" + idx], self["cr_hi" + idx], self["cr_lo" + idx] = (
                name,
                scale[i],
                scale[min(i + step, len(scale) - 1)],
            )
            return self[key]
        # money
        if base == "money":
            return self.money_str([loguniform(rng, 0.3, 3000)])[0]
        if base == "money_s":
            return self.money_str([loguniform(rng, 0.1, 25)])[0]
        if base == "money_b":
            return self.money_str(
                [loguniform(rng, 1500, 400000)], cur=rng.choice(["USD", "EUR", "USD", "GBP"])
            )[0]
        if base in ("hi", "lo"):
            hi = loguniform(rng, 0.4, 2500)
            for _ in range(20):
                lo = hi * rng.uniform(0.35, 0.93)
                h, l = self.money_str([hi, lo])
                if h != l:
                    break
            self.pair("hi" + idx, "lo" + idx, h, l)
            return self[key]
        if base in ("rhi", "rlo"):
            hi = loguniform(rng, 20, 30000)
            for _ in range(20):
                lo = hi * rng.uniform(0.88, 0.985)
                h, l = self.money_str([hi, lo])
                if h != l:
                    break
            self.pair("rhi" + idx, "rlo" + idx, h, l)
            return self[key]
        if base in ("eps_hi", "eps_lo", "eps"):
            hi = round(loguniform(rng, 0.04, 6.0), 2)
            lo = round(max(0.01, hi - rng.uniform(0.01, max(0.02, hi * 0.2))), 2)
            if lo >= hi:
                lo = round(hi - 0.01, 2) if hi > 0.02 else 0.01
                hi = max(hi, lo + 0.01)
            cur = "USD" if self.fam != "press" else self.currency()
            sym = {
                "USD": "$",
                "EUR": "EUR ",
                "GBP": "GBP ",
                "SEK": "SEK ",
                "NOK": "NOK ",
                "DKK": "DKK ",
            }[cur]
            if cur == "GBP" and rng.random() < 0.5:
                h, l = f"{hi * 100:.1f}p", f"{lo * 100:.1f}p"
            else:
                h, l = f"{sym}{hi:.2f}", f"{sym}{lo:.2f}"
            if self.fam == "tweet" and rng.random() < 0.3:
                h, l = h.replace("$", ""), l.replace("$", "")
            self["eps_hi" + idx], self["eps_lo" + idx], self["eps" + idx] = h, l, rng.choice([h, l])
            return self[key]
        if base in ("dps_hi", "dps_lo", "dps"):
            hi = round(loguniform(rng, 0.05, 3.5), 2)
            lo = round(hi * rng.uniform(0.45, 0.93), 2)
            if lo >= hi:
                lo = round(hi - 0.01, 2)
            cur = self.currency()
            sym = {
                "USD": "$",
                "EUR": "EUR ",
                "GBP": "",
                "SEK": "SEK ",
                "NOK": "NOK ",
                "DKK": "DKK ",
            }[cur]
            if cur == "GBP":
                h, l = f"{hi * 100:.1f}p", f"{lo * 100:.1f}p"
            else:
                if cur in ("SEK", "NOK", "DKK"):
                    hi, lo = round(hi * 8, 2), round(lo * 8, 2)
                h, l = f"{sym}{hi:.2f}", f"{sym}{lo:.2f}"
            self["dps_hi" + idx], self["dps_lo" + idx], self["dps" + idx] = h, l, rng.choice([h, l])
            return self[key]
        if base in ("px_hi", "px_lo", "px"):
            hi = loguniform(rng, 3, 600)
            lo = hi * rng.uniform(0.6, 0.94)
            for _ in range(10):
                h, l = self.price_str([hi, lo])
                if h != l:
                    break
                lo *= 0.9
            self["px_hi" + idx], self["px_lo" + idx], self["px" + idx] = h, l, rng.choice([h, l])
            return self[key]
        # percentages
        if base == "pct":
            return self.pct_str(loguniform(rng, 1.0, 60.0))
        if base == "pct_s":
            return self.pct_str(rng.uniform(0.2, 4.9), decimals=1)
        if base in ("phi", "plo"):
            hi = rng.uniform(2.5, 38.0)
            lo = hi - rng.uniform(0.4, min(9.0, hi - 0.5))
            f = self.pct_fmt()
            self["phi" + idx], self["plo" + idx] = self.pct_str(hi, 1, f), self.pct_str(lo, 1, f)
            return self[key]
        if base in ("crh", "crl"):  # insurance combined ratio pair (lower is better)
            hi = rng.uniform(86.0, 112.0)
            lo = hi - rng.uniform(0.5, 7.0)
            f = self.pct_fmt()
            self["crh" + idx], self["crl" + idx] = self.pct_str(hi, 1, f), self.pct_str(lo, 1, f)
            return self[key]
        if base == "mv":
            v = loguniform(rng, 1.2, 32.0)
            return self.pct_str(v, decimals=0 if (v > 6 and rng.random() < 0.65) else 1)
        if base == "imv":
            return self.pct_str(rng.uniform(0.3, 3.4), decimals=rng.choice([1, 1, 2]))
        if base == "stake":
            v = (
                rng.choice([5, 5, 10, 10, 15, 20, 25, 30, 33, 40, 50, 51, 60, 66, 75, 90, 100])
                if rng.random() < 0.7
                else round(rng.uniform(4.5, 49.5), 1)
            )
            return self.pct_str(v, decimals=0 if float(v).is_integer() else 1)
        if base == "prem":
            return self.pct_str(rng.randint(12, 75), decimals=0)
        if base == "rate_s":
            v = rng.choice(
                [
                    1.5,
                    2.0,
                    2.25,
                    2.5,
                    2.75,
                    3.0,
                    3.125,
                    3.25,
                    3.5,
                    3.75,
                    4.0,
                    4.25,
                    4.375,
                    4.5,
                    4.875,
                    5.0,
                    5.25,
                    5.75,
                    6.5,
                    7.0,
                    8.25,
                ]
            )
            d = 3 if v * 1000 % 250 else 2
            return f"{v:.{d}f}".rstrip("0").rstrip(".") + rng.choice(["%", " %", " percent"])
        # macro
        if base in ("infl_hi", "infl_lo", "infl"):
            hi = rng.uniform(1.2, 9.5)
            lo = hi - rng.uniform(0.1, 1.4)
            pf = self.pct_fmt()
            f = lambda v: self.pct_str(v, 1, pf)
            self["infl_hi" + idx], self["infl_lo" + idx], self["infl" + idx] = (
                f(hi),
                f(lo),
                f(rng.choice([hi, lo])),
            )
            return self[key]
        if base in ("ur_hi", "ur_lo", "ur"):
            hi = rng.uniform(3.2, 12.0)
            lo = hi - rng.uniform(0.1, 0.8)
            pf = self.pct_fmt()
            f = lambda v: self.pct_str(v, 1, pf)
            self["ur_hi" + idx], self["ur_lo" + idx], self["ur" + idx] = (
                f(hi),
                f(lo),
                f(rng.choice([hi, lo])),
            )
            return self[key]
        if base in ("pmi_hi", "pmi_lo", "pmi"):
            hi = rng.uniform(46.0, 59.0)
            lo = hi - rng.uniform(0.3, 4.0)
            self["pmi_hi" + idx], self["pmi_lo" + idx], self["pmi" + idx] = (
                f"{hi:.1f}",
                f"{lo:.1f}",
                f"{rng.choice([hi, lo]):.1f}",
            )
            return self[key]
        if base in ("rate_hi", "rate_lo", "rate"):
            steps = rng.randint(1, 26)
            hi = steps * 0.25
            lo = max(0.0, hi - rng.choice([0.25, 0.25, 0.25, 0.5, 0.75]))
            f = lambda v: (f"{v:.2f}" if rng.random() < 0.6 else f"{v:g}") + "%"
            self["rate_hi" + idx], self["rate_lo" + idx], self["rate" + idx] = (
                f(hi),
                f(lo),
                f(rng.choice([hi, lo])),
            )
            return self[key]
        if base == "bp":
            return str(rng.choice([25, 25, 25, 25, 25, 50, 50, 75, 10, 15, 20, 100]))
        if base == "gdp":
            return self.pct_str(rng.uniform(0.1, 3.8), decimals=1)
        if base == "claims":
            return (
                f"{rng.randint(180, 320) * 1000:,}"
                if rng.random() < 0.7
                else f"{rng.randint(180, 320)}K"
            )
        if base == "jobs_k":
            v = rng.randint(160, 450)
            return f"{v * 1000:,}" if rng.random() < 0.6 else f"{v}K"
        if base == "jobs_k_lo":
            v = rng.randint(4, 90)
            return f"{v * 1000:,}" if rng.random() < 0.6 else f"{v}K"
        if base == "pts":
            return f"{rng.randint(40, 1100):,}"
        # counts
        if base == "jobs":
            return nice_count(rng, 15, 4000)
        if base == "emp":
            return nice_count(rng, 40, 60000)
        if base == "emp_s":
            return nice_count(rng, 8, 900)
        if base == "n":
            v = rng.randint(2, 14)
            words = {
                2: "two",
                3: "three",
                4: "four",
                5: "five",
                6: "six",
                7: "seven",
                8: "eight",
                9: "nine",
                10: "ten",
            }
            if v in words and self.fam == "press" and rng.random() < 0.5:
                return words[v]
            return str(v)
        if base == "n_stores":
            return nice_count(rng, 8, 900)
        if base == "units":
            v = loguniform(rng, 300, 2_500_000)
            if v >= 1_000_000:
                return f"{v / 1e6:.1f} million"
            return nice_count(rng, max(300, v * 0.9), v * 1.1)
        if base == "users":
            v = loguniform(rng, 20_000, 40_000_000)
            if v >= 1_000_000:
                return f"{v / 1e6:.{rng.choice([1, 2])}f} million"
            return f"{int(round(v, -2)):,}"
        if base == "shares_n":
            return f"{rng.randint(5_000_000, 900_000_000):,}"
        if base == "shareholders":
            return f"{rng.randint(900, 160_000):,}"
        # time
        if base == "year":
            if idx:
                return str(self.year + int(idx) - 1) if int(idx) > 1 else str(self.year)
            return str(self.year)
        if base == "year_future":
            return str(rng.randint(2025, 2034))
        if base == "year_join":
            return str(rng.randint(self.year - 30, self.year - 3))
        if base == "year_old":
            return str(rng.randint(1862, 1998))
        if base == "date":
            if idx:
                _ = self["date"]  # make sure the base date exists first
            if idx and "_dm" in self:
                d, mo = self["_dm"]
                shift = rng.randint(10, 75)
                d += shift
                while d > 28:
                    d -= 28
                    mo += 1
                mo = min(mo, 11)
            else:
                d, mo = rng.randint(1, 28), rng.randrange(11)
                self["_dm"] = (d, mo)
            fam = self.fam
            opts = [
                f"{d} {MONTHS[mo]}",
                f"{MONTHS[mo]} {d}",
                f"{d} {MONTHS[mo]} {self.year}",
                f"{MONTHS[mo]} {d}, {self.year}",
            ]
            if fam != "press":
                opts += [
                    f"{MONTHS_SHORT[mo]} {d}",
                    f"{MONTHS_SHORT[mo]}. {d}"
                    if len(MONTHS_SHORT[mo]) == 3
                    else f"{MONTHS_SHORT[mo]} {d}",
                ]
            else:
                opts += [f"{d}.{mo + 1}.{self.year}"]
            return rng.choice(opts)
        if base == "time":
            return rng.choice(
                [
                    "10:00 a.m.",
                    "2 p.m. EET",
                    "14:00 CET",
                    "4:30 p.m. ET",
                    "9 a.m. local time",
                    "11.00 a.m. Finnish time",
                    "1 p.m.",
                    "8:30 a.m. ET",
                    "15:00 EET",
                    "noon",
                ]
            )
        if base == "q":
            q = rng.randint(1, 4)
            return rng.choice([f"Q{q}", f"Q{q}", f"Q{q} {self.year}", f"Q{q}"])
        if base == "qadj":
            q = rng.randint(1, 4)
            return rng.choice(
                [
                    f"Q{q}",
                    f"{ORD[q - 1]}-quarter",
                    f"{ORD[q - 1]}-quarter",
                    "quarterly",
                    "first-half",
                    "full-year",
                ]
            )
        if base == "qn":
            return str(rng.randint(1, 4))
        if base == "qord":
            return rng.choice(ORD)
        if base == "period":
            y = self.year
            q = rng.randint(1, 4)
            return rng.choice(
                [
                    f"the {ORD[q - 1]} quarter of {y}",
                    f"the first half of {y}",
                    "January-March",
                    f"January-March {y}",
                    f"January-September {y}",
                    f"January-June {y}",
                    f"Q{q} {y}",
                    f"the {ORD[q - 1]} quarter",
                    str(y),
                    f"the financial year {y}",
                    "the review period",
                    "the July-September period",
                    f"the first nine months of {y}",
                    "the reporting period",
                    "the October-December quarter",
                ]
            )
        if base == "prev":
            y = self.year - 1
            return rng.choice(
                [
                    f"the corresponding period in {y}",
                    "the same period a year earlier",
                    "the previous year",
                    f"the same period of {y}",
                    "the comparison period",
                    "the corresponding period of last year",
                    str(y),
                    "the year-earlier period",
                    "the same quarter last year",
                ]
            )
        if base == "fy":
            y = self.year
            return rng.choice([str(y), f"FY{str(y)[2:]}", f"fiscal {y}", f"FY{y}", f"{y}"])
        return None


# --------------------------------------------------------------------------
# Frames
# --------------------------------------------------------------------------
@dataclass
class Frame:
    fid: int
    label: str
    style: str
    topics: str
    text: str
    group: str
    src: str


ALT_RE = re.compile(r"\[([^\[\]]*)\]")
SLOT_RE = re.compile(r"\{(\w+)\}")


def parse_sources() -> list[Frame]:
    frames: list[Frame] = []
    for path in sorted(SOURCES.glob("*.txt")):
        header = None
        prev_group = None
        for ln, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            line = raw.strip()
            where = f"{path.name}:{ln}"
            if not line or line == "#" or line.startswith("# "):
                continue
            if line.startswith("@"):
                parts = line[1:].split()
                if len(parts) != 3:
                    sys.exit(f"{where}: bad header {line!r}")
                label, style, topics = parts
                if label not in LABELS or style not in STYLES:
                    sys.exit(f"{where}: bad label/style in {line!r}")
                for t in topics.split(";"):
                    if t not in TOPICS:
                        sys.exit(f"{where}: unknown topic {t!r}")
                header = (label, style, topics)
                prev_group = None
                continue
            if header is None:
                sys.exit(f"{where}: frame before any header")
            join = line.startswith("~ ")
            if join:
                line = line[2:].strip()
                if prev_group is None:
                    sys.exit(f"{where}: '~' line without a previous frame")
            topics = header[2]
            if " || " in line:
                line, topics = (x.strip() for x in line.split(" || ", 1))
                for t in topics.split(";"):
                    if t not in TOPICS:
                        sys.exit(f"{where}: unknown topic {t!r}")
            if line.count("[") != line.count("]") or line.count("{") != line.count("}"):
                sys.exit(f"{where}: unbalanced brackets in {line!r}")
            group = prev_group if join else f"{path.stem}:{ln}"
            prev_group = group
            frames.append(Frame(len(frames), header[0], header[1], topics, line, group, where))
    return frames


SMALL_WORDS = {
    "a",
    "an",
    "the",
    "of",
    "to",
    "in",
    "on",
    "at",
    "for",
    "by",
    "and",
    "as",
    "vs",
    "vs.",
    "from",
    "with",
    "or",
    "but",
    "over",
    "into",
    "per",
}


def title_case(t: str) -> str:
    words = t.split(" ")
    out = []
    for i, w in enumerate(words):
        if i > 0 and w.lower() in SMALL_WORDS:
            out.append(w.lower())
        elif w and w[0].islower() and not any(ch.isdigit() for ch in w):
            out.append(w[0].upper() + w[1:])
        else:
            out.append(w)
    return " ".join(out)


def phrasebank_tokens(t: str) -> str:
    t = re.sub(r"(\d)%", r"\1 %", t)
    t = re.sub(r"(?<=\S)([,;:])(?=\s)", r" \1", t)
    t = re.sub(r"(?<=\S)\.$", " .", t)
    t = re.sub(r"\((?=\S)", "( ", t)
    t = re.sub(r"(?<=\S)\)", " )", t)
    t = re.sub(r"(?<=\w)'s\b", " 's", t)
    return t


AN_EXCEPT = re.compile(r"^(EUR|Eu|US|U\.S\.|USD|one|uni|use|usu|UK|Ut)")


def fix_articles(t: str) -> str:
    def rep(m):
        art, nxt = m.group(1), m.group(2)
        vowel = (nxt[0] in "AEIOUaeiou" and not AN_EXCEPT.match(nxt)) or nxt.startswith(
            (
                "FDA",
                "FCA",
                "FTC",
                "SEC",
                "MHRA",
                "EMA",
                "S&P",
                "LSEG",
                "8",
                "11 ",
                "18 ",
                "hour",
                "honest",
            )
        )
        if nxt[0] in "$£€":
            vowel = False
        first = art[0]
        return (first + ("n" if vowel else "")) + " " + nxt

    return re.sub(r"\b(an|An|a|A) ([\w$£€][\w.&$£€-]*)", rep, t)


def tidy(t: str) -> str:
    t = re.sub(r"\s+", " ", t).strip()
    t = re.sub(r"\s+([,.;:!?)])", r"\1", t)
    t = re.sub(r"\(\s+", "(", t)
    t = re.sub(r",\s*,", ",", t)
    t = re.sub(r",\s*\.", ".", t)
    t = re.sub(r"\(\s*\)", "", t)
    t = re.sub(r"\.\.(?!\.)", ".", t)
    t = re.sub(r"\s+", " ", t).strip()
    t = fix_articles(t)
    return t


def noise(t: str, style: str, rng: random.Random) -> str:
    if style == "press_release":
        if t and t[0].islower():
            t = t[0].upper() + t[1:]
        if not t.endswith((".", '"', "!", "?")):
            t += "."
        if rng.random() < 0.3:
            t = phrasebank_tokens(t)
    elif style in ("wire_headline", "analyst_action", "macro"):
        if t and t[0].islower():
            t = t[0].upper() + t[1:]
        r = rng.random()
        if r < 0.18:
            t = title_case(t)
        elif style == "wire_headline" and r < 0.22:
            t = rng.choice(["UPDATE 1-", "UPDATE 2-", "BRIEF-", "CORRECTED-"]) + t
        elif style == "macro" and r < 0.24:
            t = rng.choice(["BREAKING: ", "*", "MARKETS: ", "DATA: "]) + (
                t.upper() if rng.random() < 0.4 else t
            )
        elif style == "analyst_action" and r < 0.24:
            t = rng.choice(["BRIEF-", "RESEARCH ALERT-", "ANALYST: "]) + t
        if style != "press_release" and t.endswith(".") and rng.random() < 0.7:
            t = t[:-1]
    elif style == "cashtag_tweet":
        r = rng.random()
        if r < 0.12:
            t = t.lower()
        if rng.random() < 0.25:
            slug = "".join(
                rng.choice("abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
                for _ in range(10)
            )
            t = f"{t} https://t.co/{slug}"
    return t


def expand(frame: Frame, rng: random.Random, companies) -> str:
    text = frame.text
    for _ in range(3):
        text = ALT_RE.sub(lambda m: rng.choice(m.group(1).split("|")), text)
    ctx = Ctx(rng, frame.style, companies)
    text = SLOT_RE.sub(lambda m: ctx[m.group(1)], text)
    text = tidy(text)
    return noise(text, frame.style, rng)


def norm_key(t: str) -> str:
    t = re.sub(r"https://t\.co/\w+", "", t.lower())
    t = re.sub(r"[^\w%$€£]+", " ", t)
    return t.strip()


def generate(frames, rng, companies):
    targets = {lab: round(TARGET_TOTAL * share) for lab, share in LABEL_SHARE.items()}
    rows = []
    seen = set()
    for label in LABELS:
        fr = [f for f in frames if f.label == label]
        made = Counter()
        dead = set()
        count = 0
        while count < targets[label]:
            progress = False
            order = fr[:]
            rng.shuffle(order)
            for f in order:
                if count >= targets[label]:
                    break
                if f.fid in dead or made[f.fid] >= MAX_PER_FRAME:
                    continue
                for _ in range(12):
                    t = expand(f, rng, companies)
                    k = norm_key(t)
                    if k not in seen:
                        break
                else:
                    dead.add(f.fid)
                    continue
                seen.add(k)
                rows.append(
                    {
                        "text": t,
                        "label": f.label,
                        "topics": f.topics,
                        "style": f.style,
                        "_group": f.group,
                        "_fid": f.fid,
                    }
                )
                made[f.fid] += 1
                count += 1
                progress = True
            if not progress:
                print(
                    f"WARNING: {label}: frames exhausted at {count}/{targets[label]}",
                    file=sys.stderr,
                )
                break
    return rows


def split(rows, rng):
    groups = defaultdict(list)
    for r in rows:
        groups[r["_group"]].append(r)
    # strata = (label, style, primary topic); strata with fewer than 5 groups
    # are pooled per (label, style) so tiny cells do not all land in test.
    fine = defaultdict(list)
    for g, rs in groups.items():
        fine[(rs[0]["label"], rs[0]["style"], rs[0]["topics"].split(";")[0])].append(g)
    strata = defaultdict(list)
    for key, gids in fine.items():
        strata[key if len(gids) >= 5 else (key[0], key[1], "*")].extend(gids)
    test_groups = set()
    for key in sorted(strata):
        gids = sorted(strata[key])
        rng.shuffle(gids)
        total = sum(len(groups[g]) for g in gids)
        goal = TEST_SHARE * total
        n = 0
        for g in gids:
            if n >= goal:
                break
            size = len(groups[g])
            if n > 0 and n + size > goal * 1.2:
                continue
            test_groups.add(g)
            n += size
    train = [r for r in rows if r["_group"] not in test_groups]
    test = [r for r in rows if r["_group"] in test_groups]
    rng.shuffle(train)
    rng.shuffle(test)
    return train, test


def write_csv(path, rows):
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(
            fh,
            fieldnames=["text", "label", "topics", "style"],
            quoting=csv.QUOTE_MINIMAL,
            extrasaction="ignore",
        )
        w.writeheader()
        for r in rows:
            w.writerow(r)


def table(title, keys, train, test, field, multi=False):
    def count(rows):
        c = Counter()
        for r in rows:
            for v in r[field].split(";") if multi else [r[field]]:
                c[v] += 1
        return c

    ctr, cte = count(train), count(test)
    lines = [f"{title:<24}{'train':>7}{'test':>7}{'total':>7}{'test%':>7}"]
    for k in keys:
        a, b = ctr[k], cte[k]
        pct = 100 * b / (a + b) if a + b else 0
        lines.append(f"{k:<24}{a:>7}{b:>7}{a + b:>7}{pct:>6.1f}%")
    a, b = len(train), len(test)
    lines.append(f"{'rows':<24}{a:>7}{b:>7}{a + b:>7}{100 * b / (a + b):>6.1f}%")
    return "\n".join(lines)


def near_dup_report(train, test):
    def toks(t):
        t = re.sub(r"\d[\d.,]*", "0", t.lower())
        return set(re.findall(r"[a-z0]+", t))

    tr = [toks(r["text"]) for r in train]
    hi = 0
    for r in test:
        s = toks(r["text"])
        best = 0.0
        for o in tr:
            inter = len(s & o)
            if inter:
                j = inter / len(s | o)
                if j > best:
                    best = j
                    if best >= 0.8:
                        break
        if best >= 0.8:
            hi += 1
    return f"test rows with a train row of word-Jaccard >= 0.8: {hi}/{len(test)} ({100 * hi / max(1, len(test)):.1f}%)"


def stats_text(frames, train, test):
    parts = []
    fc = Counter(f.label for f in frames)
    gc = Counter()
    seen = set()
    for f in frames:
        if f.group not in seen:
            seen.add(f.group)
            gc[f.label] += 1
    parts.append(
        "frames per label (groups): "
        + ", ".join(f"{l} {fc[l]} ({gc[l]})" for l in LABELS)
        + f"; total {len(frames)} frames in {len(seen)} groups"
    )
    parts.append(table("label", LABELS, train, test, "label"))
    parts.append(table("style", STYLES, train, test, "style"))
    parts.append(table("topic (multi-label)", TOPICS, train, test, "topics", multi=True))
    lines = [f"{'label x style':<16}" + "".join(f"{s[:14]:>15}" for s in STYLES)]
    allr = train + test
    for l in LABELS:
        lines.append(
            f"{l:<16}"
            + "".join(
                f"{sum(1 for r in allr if r['label'] == l and r['style'] == s):>15}" for s in STYLES
            )
        )
    parts.append("\n".join(lines))
    return "\n\n".join(parts)


def verify():
    """Re-read both CSVs with the csv module and check the schema and the split."""
    texts = {}
    for path in (TRAIN_CSV, TEST_CSV):
        with path.open(encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            assert reader.fieldnames == ["text", "label", "topics", "style"], reader.fieldnames
            rows = list(reader)
        for r in rows:
            assert r["text"] and r["text"] == r["text"].strip(), r
            assert r["label"] in LABELS, r
            assert r["style"] in STYLES, r
            assert r["topics"] and all(t in TOPICS for t in r["topics"].split(";")), r
            assert "{" not in r["text"] and "[" not in r["text"], r
        texts[path.name] = [r["text"] for r in rows]
    tr, te = texts[TRAIN_CSV.name], texts[TEST_CSV.name]
    assert len(set(tr)) == len(tr) and len(set(te)) == len(te), "duplicate text inside a split"
    assert not set(tr) & set(te), "text present in both train and test"
    assert len(te) >= 0.15 * (len(tr) + len(te)), "test split too small"
    assert len(tr) + len(te) >= 3600, "corpus too small"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--update-readme", action="store_true", help="rewrite the stats block in README.md"
    )
    ap.add_argument(
        "--no-neardup", action="store_true", help="skip the (slow-ish) near-duplicate report"
    )
    args = ap.parse_args()

    rng = random.Random(SEED)
    companies = build_companies(random.Random(SEED + 1))
    frames = parse_sources()
    # dry run: every frame must fill without unknown slots
    for f in frames:
        try:
            expand(f, random.Random(0), companies)
        except KeyError as e:
            sys.exit(f"{f.src}: {e}")
    rows = generate(frames, rng, companies)
    train, test = split(rows, rng)
    overlap = {norm_key(r["text"]) for r in train} & {norm_key(r["text"]) for r in test}
    assert not overlap, f"{len(overlap)} texts in both splits"
    assert not ({r["_group"] for r in train} & {r["_group"] for r in test})
    write_csv(TRAIN_CSV, train)
    write_csv(TEST_CSV, test)
    verify()
    stats = stats_text(frames, train, test)
    print(stats)
    if not args.no_neardup:
        print("\n" + near_dup_report(train, test))
    if args.update_readme and README.exists():
        txt = README.read_text(encoding="utf-8")
        start, end = "<!-- STATS START -->", "<!-- STATS END -->"
        if start in txt and end in txt:
            pre, rest = txt.split(start, 1)
            _, post = rest.split(end, 1)
            README.write_text(f"{pre}{start}\n```\n{stats}\n```\n{end}{post}", encoding="utf-8")
            print("README.md stats block updated")


if __name__ == "__main__":
    main()
