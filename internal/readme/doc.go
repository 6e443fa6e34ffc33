// Package readme holds the tests that keep the documentation honest: every Go snippet of
// README.md, CONTRIBUTING.md, BENCHMARKS.md and docs/ compiles, and every relative link
// among them resolves to a file (and a heading) of the repository.
package readme
