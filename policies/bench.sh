#!/bin/sh
# Prints what one decision costs, as a multiple of evaluating a trivial
# policy (package trivial; decision := {"allow": true}) on the same input,
# measured with the pinned `opa bench` in one run:
#
#   allow          a report of concern (examples/r-concern)
#   deny           the README's refused disclosure: a school gives a
#                  13-year-old's health data to the police
#   deny-claimed   the same, claiming R-CONSENT (claims.legal_basis_claimed)
#
# Targets: an allowed decision at most 5x, a denial at most 10x.
# BEFORE=<git revision> also measures that revision's policies in the same
# run, for a before/after comparison. COUNT (default 3) runs of each; the
# fastest counts, since other load on the machine only ever adds time.
# exprs is the number of expressions one decision evaluates and allocs the
# number of objects it allocates (which the garbage collector's share of
# ns/op follows): two measures of its cost that the load does not disturb.
set -eu
cd "$(dirname "$0")/.."
count=${COUNT:-3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

printf 'package trivial\n\ndecision := {"allow": true}\n' >"$tmp/trivial.rego"
cp policies/examples/r-concern/r-concern.input.json "$tmp/allow.json"
cat >"$tmp/deny.json" <<'JSON'
{
  "message": {"id": "0123456789abcdef0123456789abcdef", "kind": "disclosure", "created_at": "2026-03-02T10:00:00+01:00"},
  "sender": {"id": "rosengard-skola", "kind": "school", "operator": "municipal", "authority": true, "name": "Rosengårdsskolan"},
  "recipient": {"id": "polisen-syd", "kind": "police", "authority": true, "name": "Polisen Syd"},
  "claims": {"category": "health", "subject": {"pseudonym": "elev-4711", "age": 13}}
}
JSON
sed 's/"age": 13}/"age": 13}, "legal_basis_claimed": "R-CONSENT"/' "$tmp/deny.json" >"$tmp/deny-claimed.json"

# Expressions evaluated for one decision (Eval steps in a full trace), which
# unlike time does not depend on the load on the machine: exprs DIR INPUT
exprs() {
	go tool opa eval --explain=full -f pretty --ignore '*_test.rego' --ignore examples --ignore '*.schema.json' \
		-d "$1" -i "$2" data.sekretess.decision | grep -c '| Eval '
}

# ns/op of the fastest of $count runs and allocs/op: bench DIR INPUT QUERY
bench() {
	go tool opa bench --count "$count" --benchmem -f gobench --ignore '*_test.rego' --ignore examples --ignore '*.schema.json' \
		-d "$1" -i "$2" "$3" | awk '$1 ~ /^Benchmark/ {
			if (min == "" || $3 < min) min = $3
			for (i = 2; i <= NF; i++) if ($i == "allocs/op") allocs = $(i - 1)
		} END { print min, allocs }'
}

dirs="policies"
if [ -n "${BEFORE:-}" ]; then
	mkdir "$tmp/before"
	git archive "$BEFORE" policies | tar -x -C "$tmp/before"
	dirs="$tmp/before/policies policies"
fi

printf '%-14s %-10s %12s %12s %8s %8s %8s\n' case policies 'ns/op' 'trivial' ratio exprs allocs
for c in allow deny deny-claimed; do
	for d in $dirs; do
		label=now
		[ "$d" = policies ] || label="$BEFORE"
		# The trivial policy right before each measurement, on the same input.
		t=$(bench "$tmp/trivial.rego" "$tmp/$c.json" data.trivial.decision | cut -d' ' -f1)
		set -- $(bench "$d" "$tmp/$c.json" data.sekretess.decision)
		n=$1 allocs=$2
		printf '%-14s %-10.10s %12s %12s %7.1fx %8s %8s\n' "$c" "$label" "$n" "$t" "$(echo "$n $t" | awk '{ print $1 / $2 }')" "$(exprs "$d" "$tmp/$c.json")" "$allocs"
	done
done
