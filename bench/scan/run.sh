#!/usr/bin/env bash
# Scan benchmark: time `outrider scan` against peer scanners on one corpus.
#
# Steps: build bin/outrider (static, like `make build`); generate the corpus
# into bench/_out/corpus (only when it is missing or was made with other
# settings); install the peers into bench/.tools/bin when missing; then run
# every tool BENCH_RUNS times on the same corpus, round-robin so machine noise
# spreads evenly, under `/usr/bin/time -f '%e %M'` (wall seconds, peak RSS KiB).
# Prints a table of medians and ratios against outrider, and writes it to
# bench/_out/scan-results.md.
#
# A peer's non-zero exit for "found violations" is not a failure; a crash, a
# signal, or a parse/read error on stderr is, and stops the benchmark.
#
# Environment:
#   BENCH_N=10000        objects in the corpus
#   BENCH_SEED=1         corpus seed
#   BENCH_RUNS=3         timed runs per tool (the median is reported)
#   BENCH_TOOLS="..."    tools to run (default: outrider and every installed peer)
#
# Usage: make bench-scan   (or bench/scan/run.sh)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"

n=${BENCH_N:-10000}
seed=${BENCH_SEED:-1}
runs=${BENCH_RUNS:-3}
out=bench/_out
corpus=$out/corpus
logs=$out/scan
results=$out/scan-results.md
tools_bin=bench/.tools/bin
peers_dir=bench/scan/peers

log() { echo "bench-scan: $*" >&2; }
die() {
	echo "bench-scan: ERROR: $*" >&2
	exit 1
}

# --- build -------------------------------------------------------------------
# The release build, as `make build` does it: static (CGO_ENABLED=0), so the same
# bin/outrider also works for the local cluster's distroless image.
log "CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o bin/outrider ./cmd/outrider"
CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o bin/outrider ./cmd/outrider ||
	die "bin/outrider does not build"

# --- corpus ------------------------------------------------------------------
want="n=$n seed=$seed generator=$(sha256sum bench/scan/corpusgen/*.go | sha256sum | cut -c1-12)"
mkdir -p "$out"
if [[ ! -f $corpus/.corpus || $(<"$corpus/.corpus") != "$want" ]]; then
	log "generating corpus ($want) into $corpus"
	go run ./bench/scan/corpusgen --out "$corpus" --n "$n" --seed "$seed" 2>"$out/corpus-stats.txt" ||
		die "corpusgen failed: $(cat "$out/corpus-stats.txt")"
	echo "$want" >"$corpus/.corpus"
fi
mapfile -t files < <(find "$corpus" -type f -name '*.yaml' | LC_ALL=C sort)
corpus_mib=$(du -sm "$corpus" | cut -f1)
log "corpus: $n objects in ${#files[@]} files, ${corpus_mib} MiB"

# --- peers -------------------------------------------------------------------
bash bench/scan/install-peers.sh >&2

# Each tool: the command (as an array, set by cmd_TOOL), how to count its
# findings from stdout, and what counts as an error on stderr.
cmd_outrider() { cmd=(bin/outrider scan -o json --fail-on critical "$corpus"); }
cmd_kube-score() { cmd=("$tools_bin/kube-score" score --output-format ci "${files[@]}"); }
cmd_conftest() { cmd=("$tools_bin/conftest" test --no-color -p "$peers_dir/conftest/policy" "$corpus"); }
cmd_gator() { cmd=("$tools_bin/gator" test -f "$corpus" -f "$peers_dir/gator"); }

# findings_TOOL STDOUT_FILE prints the number of findings in one run's output.
findings_outrider() { jq '.findings | length' "$1"; }
findings_kube-score() { grep -cE '^\[(CRITICAL|WARNING)\]' "$1" || true; }
findings_conftest() { grep -c '^FAIL - ' "$1" || true; }
findings_gator() { grep -c '\] Message: ' "$1" || true; }

# What each count means, for the reader of the table.
declare -A counted=(
	[outrider]="findings (PSS restricted + default-on checks)"
	[kube-score]="CRITICAL + WARNING lines (kube-score's own checks)"
	[conftest]="FAIL lines (our PSS restricted Rego)"
	[gator]="violations (our PSS restricted ConstraintTemplates)"
)

version_of() {
	case $1 in
	outrider) git describe --always --dirty 2>/dev/null || echo dev ;;
	*) cat "$tools_bin/.$1.version" ;;
	esac
}

if [[ -n ${BENCH_TOOLS:-} ]]; then
	read -r -a tools <<<"$BENCH_TOOLS"
else
	tools=(outrider)
	for t in kube-score gator conftest; do
		[[ -x $tools_bin/$t ]] && tools+=("$t")
	done
fi
[[ ${tools[0]} == outrider ]] || die "BENCH_TOOLS must start with outrider (the ratios are against it)"

# --- runs --------------------------------------------------------------------
rm -rf "$logs"
mkdir -p "$logs"
declare -A walls rsss counts commands
for ((r = 1; r <= runs; r++)); do
	for t in "${tools[@]}"; do
		"cmd_$t"
		commands[$t]="${cmd[*]}"
		[[ $t == kube-score ]] && commands[$t]="$tools_bin/kube-score score --output-format ci \$(find $corpus -name '*.yaml' | sort)"
		o="$logs/$t.$r.out" e="$logs/$t.$r.err" tf="$logs/$t.$r.time"
		rc=0
		/usr/bin/time -f '%e %M' -o "$tf" "${cmd[@]}" >"$o" 2>"$e" || rc=$?
		# Findings exit 1 (every tool here); anything else is a failure.
		if ((rc > 1)); then
			tail -n 20 "$e" >&2
			die "$t exited $rc ($(head -n1 "$tf")); see $e"
		fi
		if grep -qiE 'panic|fatal|error|failed to' "$e"; then
			tail -n 20 "$e" >&2
			die "$t reported an error on stderr; see $e"
		fi
		read -r wall rss < <(tail -n1 "$tf")
		c=$("findings_$t" "$o")
		((c > 0)) || die "$t reported no findings on a corpus full of violations; see $o"
		if [[ -n ${counts[$t]:-} && ${counts[$t]} != "$c" ]]; then
			die "$t found $c findings in run $r but ${counts[$t]} before: nondeterministic"
		fi
		counts[$t]=$c
		walls[$t]+="$wall "
		rsss[$t]+="$rss "
		log "run $r/$runs $t: ${wall}s, $((rss / 1024)) MiB, $c findings (exit $rc)"
	done
done

median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
range() { tr ' ' '\n' | grep . | sort -g | awk 'NR==1{lo=$1} {hi=$1} END {print lo "–" hi}'; }

ow=$(median <<<"${walls[outrider]}")
orss=$(median <<<"${rsss[outrider]}")
{
	echo "| tool | version | wall s (median of $runs) | wall range s | peak RSS MiB (median) | findings | time vs outrider | memory vs outrider |"
	echo "|---|---|---:|---:|---:|---:|---:|---:|"
	for t in "${tools[@]}"; do
		w=$(median <<<"${walls[$t]}")
		m=$(median <<<"${rsss[$t]}")
		awk -v t="$t" -v v="$(version_of "$t")" -v w="$w" -v rg="$(range <<<"${walls[$t]}")" -v m="$m" \
			-v c="${counts[$t]}" -v ow="$ow" -v om="$orss" 'BEGIN {
			printf "| %s | %s | %.2f | %s | %.0f | %d | %.1f× | %.1f× |\n", t, v, w, rg, m / 1024, c, w / ow, m / om
		}'
	done
} >"$logs/table.md"

{
	echo "# Scan benchmark results"
	echo
	echo "Corpus: $n objects ($want) in ${#files[@]} files, ${corpus_mib} MiB; mix in \`corpus-stats.txt\`."
	echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(go env GOVERSION); $(date -u +%Y-%m-%dT%H:%MZ)."
	echo "Ratios are the tool's median over outrider's: above 1× means outrider is faster / smaller."
	echo
	cat "$logs/table.md"
	echo
	echo "What each findings count is:"
	echo
	for t in "${tools[@]}"; do echo "- $t: ${counted[$t]}"; done
	echo
	echo "Commands (stdout to a file, under \`/usr/bin/time -f '%e %M'\`):"
	echo
	echo '```'
	for t in "${tools[@]}"; do echo "${commands[$t]}"; done
	echo '```'
	if compgen -G "bench/.tools/skipped/*" >/dev/null; then
		echo
		echo "Not benchmarked:"
		echo
		for s in bench/.tools/skipped/*; do echo "- $(basename "$s"): $(tr '\n' ' ' <"$s")"; done
	fi
} >"$results"

echo
cat "$results"
