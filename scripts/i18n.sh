#!/usr/bin/env bash
# Refreshes the gettext catalogs: extracts every _() message (French, the source language)
# from the grader, updates locale/en's .po (new entries arrive empty, to be translated)
# and compiles the .mo files. tests/unit/test_i18n.py fails while a message lacks its translation.
set -euo pipefail
cd "$(dirname "$0")/.."
pybabel=.venv/bin/pybabel
pot=harness/locale/grader.pot
mkdir -p harness/locale
"$pybabel" extract --no-location --sort-output -k _ -k ngettext:1,2 --project grader \
  -o "$pot" harness checks grader.py
for lang in en; do
  po=harness/locale/$lang/LC_MESSAGES/grader.po
  if [ -f "$po" ]; then
    "$pybabel" update --no-fuzzy-matching -i "$pot" -d harness/locale -D grader -l "$lang"
  else
    "$pybabel" init -i "$pot" -d harness/locale -D grader -l "$lang"
  fi
done
"$pybabel" compile -d harness/locale -D grader --use-fuzzy
