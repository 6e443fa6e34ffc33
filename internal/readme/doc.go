// Package readme holds the test that compiles every Go snippet of README.md, so that the
// documentation cannot drift from the API.
package readme
