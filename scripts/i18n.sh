#!/usr/bin/env bash
# Refreshes the gettext catalogs. Each one: extract every _() and ngettext() message (French, the
# source language), update locale/en's .po (new entries arrive empty, to be translated; entries the
# code no longer says are dropped) and compile the .mo files.
#
#   scripts/i18n.sh            the harness's catalog (harness/ and grader.py: harness/locale, domain
#                              grader) and each bundled assignment's (checks/NAME/locale, domain messages)
#   scripts/i18n.sh DIR...     these assignment folders only (a lab anywhere on disk)
#
# An assignment's messages are those of its own *.py files, not of its reference/, samples/ or locale/.
# tests/unit/test_i18n.py fails while a message of the harness or of a bundled assignment lacks English.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
pybabel=${PYBABEL:-$root/.venv/bin/pybabel}
languages=(en)
not_messages=".* ._ __pycache__ reference samples locale"

# refresh LOCALE_DIR DOMAIN PROJECT INPUT...
refresh() {
  local locale=$1 domain=$2 project=$3
  shift 3
  mkdir -p "$locale"
  "$pybabel" --quiet extract --no-location --sort-output -k _ -k ngettext:1,2 --project "$project" \
    --ignore-dirs "$not_messages" -o "$locale/$domain.pot" "$@"
  for lang in "${languages[@]}"; do
    if [ -f "$locale/$lang/LC_MESSAGES/$domain.po" ]; then
      "$pybabel" --quiet update --no-fuzzy-matching --ignore-obsolete -i "$locale/$domain.pot" \
        -d "$locale" -D "$domain" -l "$lang"
    else
      "$pybabel" --quiet init -i "$locale/$domain.pot" -d "$locale" -D "$domain" -l "$lang"
    fi
  done
  "$pybabel" --quiet compile -d "$locale" -D "$domain" --use-fuzzy
}

assignment() {
  local folder
  folder=$(cd "$1" && pwd)
  if [ ! -f "$folder/assignment.yaml" ]; then
    echo "i18n.sh: $1 holds no assignment.yaml: not an assignment folder." >&2
    exit 2
  fi
  # Domain "messages": harness.i18n.ASSIGNMENT_DOMAIN.
  refresh "$folder/locale" messages "$(basename "$folder")" "$folder"
}

if [ $# -gt 0 ]; then
  for folder in "$@"; do assignment "$folder"; done
  exit 0
fi
cd "$root"
refresh harness/locale grader grader harness grader.py
for folder in checks/*/; do
  [ -f "$folder/assignment.yaml" ] && assignment "$folder"
done
