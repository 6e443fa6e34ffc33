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

// sample is what one library did on one corpus over the runs of -count.
type sample struct {
	ns, allocs []float64
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
var benchLine = regexp.MustCompile(`^Benchmark(Verify|RSA)/lib=([^/]+)/corpus=([a-z-]+?)(?:-\d+)?\s+\d+\s+([\d.]+) ns/op(?:\s+[\d.]+ B/op\s+([\d.]+) allocs/op)?`)

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

func (r *results) write(w io.Writer) {
	fmt.Fprintf(w, "Side-by-side token verification, %s, %s/%s, %d cores, %s; medians of every run.\n\n",
		time.Now().UTC().Format("2006-01-02"), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), orUnknown(r.cpu))
	fmt.Fprintln(w, "| library | ns/op distinct | ns/op repeated-token mix | allocs/op distinct / mix | verifications/s per process, every core: distinct | same: mix | cognitokit faster by: distinct / mix |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|")
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
		if lib != self && hasSelfD && hasSelfM && okD && okM {
			faster = fmt.Sprintf("%.2f× / %.0f×", d/selfDistinct, m/selfMix)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s |\n", lib, nsCell(d, okD), nsCell(m, okM), allocs,
			rateCell(psD, noteD, okPD), rateCell(psM, noteM, okPM), faster)
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
		if lib == self || lib == node || strings.HasPrefix(lib, "rsa:") {
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
	selfRate, _, okS := r.perSecond(self, "distinct")
	nodeRate, _, okN := r.perSecond(node, "distinct")
	if okS && okN {
		ratio := selfRate / nodeRate
		fmt.Fprintf(w, "- cognitokit verifications/s per process (every core) ÷ aws-jwt-verify's (verifySync, one thread), distinct corpus: **%.3f×** (target ≥ 1.8×: %s)\n",
			ratio, metMissed(ratio >= 1.8))
		nodeNs, _ := r.ns(node, "distinct")
		cores := math.Ceil(1.8 * selfD / nodeNs)
		fmt.Fprintf(w, "- per core, one cognitokit verification takes %.2f× aws-jwt-verify's; at these rates 1.8× its verifications/s needs %d cores with perfect scaling (this machine: %d)\n",
			selfD/nodeNs, int(cores), runtime.NumCPU())
	}
	goRSA, okG := r.ns("rsa:go-crypto-rsa", "distinct")
	nodeRSA, okR := r.ns("rsa:node-crypto", "distinct")
	if okG && okR {
		fmt.Fprintf(w, "- RSA-2048 alone (SHA-256 + PKCS#1 v1.5 verification, one thread): Go crypto/rsa %s ns, node:crypto (OpenSSL) %s ns: **%.2f×**; cognitokit's verification is %.2f× Go's RSA alone\n",
			thousands(goRSA), thousands(nodeRSA), goRSA/nodeRSA, selfD/goRSA)
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
