// Command report turns the output of the side-by-side benchmarks (go test -bench in
// bench/ and node/run.sh, in Go benchmark format) into one markdown table, printed and
// written to -o.
//
//	go run ./cmd/report -o results.md peers.out node.out
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

func main() {
	out := flag.String("o", "", "also write the table to this file")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: report [-o file] <benchmark output>...")
		os.Exit(2)
	}
	r := newResults()
	for _, name := range flag.Args() {
		f, err := os.Open(name)
		if err != nil {
			fmt.Fprintln(os.Stderr, "report:", err)
			os.Exit(1)
		}
		err = r.read(f)
		f.Close()
		if err != nil {
			fmt.Fprintln(os.Stderr, "report:", err)
			os.Exit(1)
		}
	}
	var sb strings.Builder
	r.write(&sb)
	fmt.Print(sb.String())
	if *out != "" {
		if err := os.WriteFile(*out, []byte(sb.String()), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "report:", err)
			os.Exit(1)
		}
	}
}

// sample is what one library did on one corpus over the runs of -count: wall time, CPU
// time of the whole process (cpu-ns/op) and allocations, per verification.
type sample struct {
	ns, cpu, allocs []float64
}

type results struct {
	libs  []string // in the order first seen
	runs  map[string]map[string]*sample
	notes []string
	cpu   string
	// interleaved[corpus][lib]: ns/op of BenchmarkInterleaved's runs; libs in order seen.
	interleaved     map[string]map[string][]float64
	interleavedLibs []string
}

func newResults() *results {
	return &results{runs: map[string]map[string]*sample{}, interleaved: map[string]map[string][]float64{}}
}

// BenchmarkInterleaved/corpus=<corpus>-<procs> <n> <ns> ns/op <v> <lib>-ns/op ...
var (
	interleavedLine = regexp.MustCompile(`^BenchmarkInterleaved/corpus=([a-z]+)(?:-\d+)?\s`)
	libMetric       = regexp.MustCompile(`([\d.]+) (\S+)-ns/op`)
)

// Benchmark{Verify,RSA}/lib=<lib>/corpus=<corpus>[-procs] <n> <ns> ns/op [<b> B/op <a> allocs/op]
var (
	benchLine = regexp.MustCompile(`^Benchmark(Verify|RSA)/lib=([^/]+)/corpus=([a-z-]+?)(?:-\d+)?\s+\d+\s+([\d.]+) ns/op(?:.*\s([\d.]+) allocs/op)?`)
	cpuMetric = regexp.MustCompile(`\s([\d.]+) cpu-ns/op`)
)

func (r *results) read(f io.Reader) error {
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "cpu: "):
			r.cpu = strings.TrimSpace(strings.TrimPrefix(line, "cpu: "))
		case strings.HasPrefix(line, "SKIP "), strings.HasPrefix(line, "# "):
			if note := strings.TrimPrefix(line, "# "); !slices.Contains(r.notes, note) {
				r.notes = append(r.notes, note)
			}
		}
		if m := interleavedLine.FindStringSubmatch(line); m != nil {
			byLib := r.interleaved[m[1]]
			if byLib == nil {
				byLib = map[string][]float64{}
				r.interleaved[m[1]] = byLib
			}
			for _, lm := range libMetric.FindAllStringSubmatch(line, -1) {
				v, err := strconv.ParseFloat(lm[1], 64)
				if err != nil {
					return fmt.Errorf("%q: %v", line, err)
				}
				if !slices.Contains(r.interleavedLibs, lm[2]) {
					r.interleavedLibs = append(r.interleavedLibs, lm[2])
				}
				byLib[lm[2]] = append(byLib[lm[2]], v)
			}
			continue
		}
		m := benchLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		lib, corpus := m[2], m[3]
		if m[1] == "RSA" {
			// Kept apart from the libraries: RSA alone, "rsa:<implementation>".
			lib = "rsa:" + lib
		}
		if r.runs[lib] == nil {
			r.runs[lib] = map[string]*sample{}
			r.libs = append(r.libs, lib)
		}
		s := r.runs[lib][corpus]
		if s == nil {
			s = &sample{}
			r.runs[lib][corpus] = s
		}
		ns, err := strconv.ParseFloat(m[4], 64)
		if err != nil {
			return fmt.Errorf("%q: %v", line, err)
		}
		s.ns = append(s.ns, ns)
		if c := cpuMetric.FindStringSubmatch(line); c != nil {
			v, _ := strconv.ParseFloat(c[1], 64)
			s.cpu = append(s.cpu, v)
		}
		if m[5] != "" {
			a, _ := strconv.ParseFloat(m[5], 64)
			s.allocs = append(s.allocs, a)
		}
	}
	return sc.Err()
}

// median of the runs; false when there are none.
func median(v []float64) (float64, bool) {
	if len(v) == 0 {
		return 0, false
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2], true
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2, true
}

func (r *results) ns(lib, corpus string) (float64, bool) {
	if s := r.runs[lib][corpus]; s != nil {
		return median(s.ns)
	}
	return 0, false
}

// cpuNs is the median CPU time of the process per verification.
func (r *results) cpuNs(lib, corpus string) (float64, bool) {
	if s := r.runs[lib][corpus]; s != nil {
		return median(s.cpu)
	}
	return 0, false
}

func (r *results) allocs(lib, corpus string) (float64, bool) {
	if s := r.runs[lib][corpus]; s != nil {
		return median(s.allocs)
	}
	return 0, false
}

// perSecond is the verifications per second of the process: from the parallel run for Go
// libraries (every core), from the serial run for a library without one (Node's
// verifySync, one thread).
func (r *results) perSecond(lib, corpus string) (float64, string, bool) {
	if ns, ok := r.ns(lib, corpus+"-parallel"); ok {
		return 1e9 / ns, "", true
	}
	if ns, ok := r.ns(lib, corpus); ok {
		return 1e9 / ns, " (1 thread)", true
	}
	return 0, "", false
}

const (
	self = "cognitokit"
	node = "aws-jwt-verify"
)

// builds are cognitokit's builds (bench.CryptoBuild's suffixes), the row each is shown
// as, and its target for verifications/s per process ÷ aws-jwt-verify's on the distinct
// corpus (0: none).
var builds = []struct {
	suffix, row string
	target      float64
}{
	{"", "cognitokit", 1.6},
	{"+boringcrypto", "cognitokit (BoringCrypto)", 2.5},
	{"+fips140", "cognitokit (GODEBUG=fips140=on)", 0},
}

// variant reports whether lib is a build of cognitokit or crypto/rsa other than the
// default one, and the row it is shown as.
func variant(lib string) (string, bool) {
	for _, b := range builds[1:] {
		if name, ok := strings.CutSuffix(lib, b.suffix); ok {
			if name == self {
				return b.row, true
			}
			return name + strings.TrimPrefix(b.row, self), true
		}
	}
	return lib, false
}

func (r *results) write(w io.Writer) {
	fmt.Fprintf(w, "Side-by-side token verification, %s, %s/%s, %d cores, %s; medians of every run.\n\n",
		time.Now().UTC().Format("2006-01-02"), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), orUnknown(r.cpu))
	fmt.Fprintln(w, "| library | ns/op distinct | ns/op repeated-token mix | allocs/op distinct / mix | verifications/s per process, every core: distinct | same: mix | CPU ns per verification, distinct, every core | cognitokit faster by: distinct / mix |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|")
	selfDistinct, hasSelfD := r.ns(self, "distinct")
	selfMix, hasSelfM := r.ns(self, "mix")
	for _, lib := range r.libs {
		if strings.HasPrefix(lib, "rsa:") {
			continue
		}
		d, okD := r.ns(lib, "distinct")
		m, okM := r.ns(lib, "mix")
		ad, okAD := r.allocs(lib, "distinct")
		am, okAM := r.allocs(lib, "mix")
		allocs := "–"
		if okAD && okAM {
			allocs = fmt.Sprintf("%s / %s", num(ad), num(am))
		}
		psD, noteD, okPD := r.perSecond(lib, "distinct")
		psM, noteM, okPM := r.perSecond(lib, "mix")
		faster := "–"
		row, isVariant := variant(lib)
		if lib != self && !isVariant && hasSelfD && hasSelfM && okD && okM {
			faster = fmt.Sprintf("%.2f× / %.0f×", d/selfDistinct, m/selfMix)
		}
		cpu, okC := r.cpuNs(lib, "distinct-parallel")
		cpuNote := ""
		if !okC {
			cpu, okC = r.cpuNs(lib, "distinct")
			cpuNote = " (1 thread)"
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", row, nsCell(d, okD), nsCell(m, okM), allocs,
			rateCell(psD, noteD, okPD), rateCell(psM, noteM, okPM), rateCell(cpu, cpuNote, okC), faster)
	}
	fmt.Fprintln(w)
	r.writeTargets(w)
	for _, n := range r.notes {
		fmt.Fprintf(w, "- %s\n", n)
	}
}

func (r *results) writeTargets(w io.Writer) {
	selfD, okD := r.ns(self, "distinct")
	selfM, okM := r.ns(self, "mix")
	if !okD || !okM {
		return
	}
	fastest := true
	var goPeers []string
	for _, lib := range r.libs {
		if _, isVariant := variant(lib); lib == self || lib == node || isVariant || strings.HasPrefix(lib, "rsa:") {
			continue
		}
		goPeers = append(goPeers, lib)
		d, _ := r.ns(lib, "distinct")
		m, _ := r.ns(lib, "mix")
		if d <= selfD || m <= selfM {
			fastest = false
		}
	}
	fmt.Fprintf(w, "- cognitokit faster than every Go peer (%s) on both corpora, separate benchmarks: **%s**\n", strings.Join(goPeers, ", "), yesNo(fastest))
	if len(r.interleaved) > 0 {
		fastest = true
		var parts []string
		for _, corpus := range []string{"distinct", "mix"} {
			byLib := r.interleaved[corpus]
			selfNs, ok := median(byLib[self])
			if !ok {
				continue
			}
			var cells []string
			for _, lib := range r.interleavedLibs {
				v, ok := median(byLib[lib])
				if !ok {
					continue
				}
				cells = append(cells, fmt.Sprintf("%s %s ns", lib, thousands(v)))
				if lib != self && v <= selfNs {
					fastest = false
				}
			}
			parts = append(parts, corpus+": "+strings.Join(cells, ", "))
		}
		fmt.Fprintf(w, "- the same, interleaved (each token through every Go library in turn, so all see the same load): **%s**; %s\n",
			yesNo(fastest), strings.Join(parts, "; "))
	}
	nodeRate, _, okN := r.perSecond(node, "distinct")
	nodeNs, _ := r.ns(node, "distinct")
	for _, b := range builds {
		rate, _, ok := r.perSecond(self+b.suffix, "distinct")
		if !ok || !okN {
			continue
		}
		ratio := rate / nodeRate
		target := "no target"
		if b.target > 0 {
			target = fmt.Sprintf("target ≥ %.1f×: %s", b.target, metMissed(ratio >= b.target))
		}
		fmt.Fprintf(w, "- %s verifications/s per process (every core) ÷ aws-jwt-verify's (verifySync, one thread), distinct corpus: **%.3f×** (%s)\n",
			b.row, ratio, target)
		if d, ok := r.ns(self+b.suffix, "distinct"); ok && b.target > 0 {
			fmt.Fprintf(w, "  - per core, one verification takes %.2f× aws-jwt-verify's; at these rates %.1f× its verifications/s needs %d cores with perfect scaling (this machine: %d)\n",
				d/nodeNs, b.target, int(math.Ceil(b.target*d/nodeNs)), runtime.NumCPU())
		}
	}
	// The same ratio from CPU time: what one verification costs the machine, counting every
	// thread of each process (GC included) and not the time spent waiting for a core, so
	// that other jobs' load cancels out; a process's rate on this machine is then its cores
	// (every core for Go, one for verifySync) divided by that time.
	nodeCPU, okNC := r.cpuNs(node, "distinct")
	for _, b := range builds {
		goCPU, ok := r.cpuNs(self+b.suffix, "distinct-parallel")
		if !ok || !okNC {
			continue
		}
		ratio := float64(runtime.NumCPU()) * nodeCPU / goCPU
		target := "no target"
		if b.target > 0 {
			target = fmt.Sprintf("target ≥ %.1f×: %s", b.target, metMissed(ratio >= b.target))
		}
		fmt.Fprintf(w, "- the same from CPU time per verification (%s ns for %s on every core, %s ns for aws-jwt-verify): **%.3f×** (%s)\n",
			thousands(goCPU), b.row, thousands(nodeCPU), ratio, target)
	}
	if fips, ok := r.ns(self+"+fips140", "distinct"); ok && okD {
		fmt.Fprintf(w, "- Go's FIPS 140-3 mode (GODEBUG=fips140=on) costs cognitokit %+.1f%% per distinct token in wall time (%s ns vs %s ns)",
			100*(fips/selfD-1), thousands(fips), thousands(selfD))
		fipsCPU, okF := r.cpuNs(self+"+fips140", "distinct")
		defCPU, okC := r.cpuNs(self, "distinct")
		if okF && okC {
			fmt.Fprintf(w, ", %+.1f%% in CPU time (%s ns vs %s ns)", 100*(fipsCPU/defCPU-1), thousands(fipsCPU), thousands(defCPU))
		}
		fmt.Fprintln(w)
	}
	nodeRSA, okR := r.ns("rsa:node-crypto", "distinct")
	for _, b := range builds {
		rsa, ok := r.ns("rsa:go-crypto-rsa"+b.suffix, "distinct")
		own, okS := r.ns(self+b.suffix, "distinct")
		if !ok || !okR || !okS {
			continue
		}
		build := strings.Trim(strings.TrimPrefix(b.row, self), " ()")
		if build == "" {
			build = "default"
		}
		fmt.Fprintf(w, "- RSA-2048 alone (SHA-256 + PKCS#1 v1.5 verification, one thread), %s build: Go crypto/rsa %s ns, node:crypto (OpenSSL) %s ns: **%.2f×**; cognitokit's verification is %.2f× its RSA alone\n",
			build, thousands(rsa), thousands(nodeRSA), rsa/nodeRSA, own/rsa)
	}
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown CPU"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func metMissed(b bool) string {
	if b {
		return "met"
	}
	return "missed"
}

func num(v float64) string {
	if v == float64(int64(v)) {
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

func nsCell(v float64, ok bool) string {
	if !ok {
		return "–"
	}
	return thousands(v)
}

func rateCell(v float64, note string, ok bool) string {
	if !ok {
		return "–"
	}
	return thousands(v) + note
}

// thousands formats v rounded, with thousands separators (below 100, one decimal).
func thousands(v float64) string {
	if v < 100 {
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	s := strconv.FormatInt(int64(v+0.5), 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
