#!/usr/bin/env python3
"""Prints a Frictionless Table Schema equivalent to userimport's `standard`
profile for the generator's columns: the same required/unique keys, lengths,
e-mail format, password length, and every enumeration and code table (country,
language, time zone, date/time formats, status, due-date type, On/Off, delete
flag) with their accepted spellings. Used by benches/compare.sh.

usage: frictionless_schema.py crates/schema/src/codes/seed_tables.rs > schema.json
"""
import json
import re
import sys
import zoneinfo

tables = open(sys.argv[1], encoding="utf-8").read()


def section(name):
    start = tables.index(f"static {name}:")
    end = tables.index("\n];", start)
    return tables[start:end]


def values(name, fields):
    text = section(name)
    out = []
    for field in fields:
        out += re.findall(rf'\b{field}: "((?:[^"\\]|\\.)*)"', text)
    # Case-insensitive in userimport: accept the three usual casings here.
    spelled = set()
    for v in out:
        v = v.encode().decode("unicode_escape").encode("latin-1").decode("utf-8")
        spelled |= {v, v.lower(), v.upper()}
    return sorted(spelled)


def ci(*words):
    s = set()
    for w in words:
        s |= {w, w.lower(), w.upper()}
    return sorted(s)


countries = values("COUNTRIES", ["seed", "canonical", "clean", "display"])
languages = values("LANGUAGES", ["seed", "canonical", "clean", "display"])
zones = sorted(zoneinfo.available_timezones())
text = lambda name, n, **c: {"name": name, "type": "string", "constraints": {"maxLength": n, **c}}
enum = lambda name, vals: {"name": name, "type": "string", "constraints": {"enum": vals}}
schema = {
    "fields": [
        text("Login ID", 100, required=True, unique=True),
        text("Name", 255),
        text("Display name", 255),
        text("Department", 255),
        text("Position", 255),
        {"name": "Email address", "type": "string", "format": "email",
         "constraints": {"unique": True, "maxLength": 254}},
        {"name": "Password", "type": "string", "constraints": {"minLength": 8, "maxLength": 128}},
        enum("Announcement e-mails", ci("On", "Off")),
        enum("Country/Region", countries),
        enum("Language", languages),
        enum("Time zone", zones),
        enum("Date format", ci("YYYY-MM-DD", "YYYY/MM/DD", "DD/MM/YYYY", "MM/DD/YYYY",
                               "DD/MMM/YYYY", "MMM/DD/YYYY", "YYYY year M month D day",
                               "YYYYY-MM-DD", "YYYYY/MM/DD")),
        enum("Time format", ci("HH:mm:ss", "H hour mm minute ss second", "hh:mm:ss a")),
        enum("Status", ci("Valid", "Invalid", "Suspended", "Temporary suspended",
                          "Temporarily suspended")),
        enum("Due date type", ci("Unlimited", "FromFirstLogin", "FromCreation", "ExpirationDate",
                                 "From the first login date", "From the creation date",
                                 "effective date", "expiration date")),
        {"name": "Valid days/due date", "type": "string",
         "constraints": {"pattern": r"[0-9]{1,5}|[0-9]{4}/[0-9]{2}/[0-9]{2}"}},
        text("Belong to", 4000),
        text("Management roles", 4000),
        enum("Delete flag", ["0", "1"]),
    ],
    "missingValues": [""],
}
json.dump(schema, sys.stdout, ensure_ascii=False, indent=1)
