// Command cognitokit does Amazon Cognito auth from the shell: it fetches client-credentials
// tokens, verifies tokens, checks and explains route policies, answers reverse proxies
// auth requests with a policy's decisions, runs a local Cognito, and demonstrates the SDK
// end to end.
//
// Usage:
//
//	cognitokit token   [flags]                 client-credentials token (flags or COGNITO_* env)
//	cognitokit verify  [flags] [TOKEN|-]       verify one token, or one per line from stdin
//	cognitokit policy check FILE               validate a route policy
//	cognitokit policy explain FILE --request "GET /orders/7" [--token T | --claims F]
//	cognitokit serve   --listen A --policy F   answer nginx, Traefik, Caddy and Envoy auth requests
//	cognitokit revoke  --redis-url URL (--jti|--origin-jti|--sub|--client-id ID) | --list
//	                                           put an entry on the fleet's revocation list
//	cognitokit local   [--addr A] [--config F] run a local Cognito until interrupted
//	cognitokit demo                            the SDK end to end against a local Cognito
//
// Run `cognitokit <command> --help` for a command's flags. Exit codes: 0 success, 1 a
// refusal or failure (invalid token, denied request, unreachable endpoint), 2 a usage or
// configuration error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

const usage = `cognitokit: Amazon Cognito auth from the shell

Usage:
  cognitokit token   [flags]                   get a client-credentials token
  cognitokit verify  [flags] [TOKEN|-]         verify a token (or one per line from stdin)
  cognitokit policy check FILE                 validate a route policy file
  cognitokit policy explain FILE --request "GET /path" [--token T | --claims FILE]
                                               show the route, decision and answer for a request
  cognitokit serve   --listen ADDR --policy FILE [pool flags]
                                               answer reverse proxies (nginx auth_request, Traefik,
                                               Caddy, Envoy ext_authz) with the policy's decisions
  cognitokit revoke  --redis-url URL (--jti ID | --origin-jti ID | --sub SUB | --client-id ID)
                     [--issued-before RFC3339] [--issuer ISS] [--ttl D]
  cognitokit revoke  --redis-url URL --list    put an entry on (or print) the fleet's revocation list
  cognitokit local   [--addr 127.0.0.1:9229] [--config local.yaml]
                                               run a local Cognito until interrupted
  cognitokit demo                              run the SDK end to end against a local Cognito

Run "cognitokit <command> --help" for the flags of a command.
Exit codes: 0 success, 1 refused or failed, 2 usage or configuration error.
`

// Exit codes.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// env is what a command gets from the process: its arguments' streams.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	e := env{stdin: stdin, stdout: stdout, stderr: stderr}
	var err error
	switch args[0] {
	case "token":
		err = runToken(ctx, e, args[1:])
	case "verify":
		err = runVerify(ctx, e, args[1:])
	case "policy":
		err = runPolicy(ctx, e, args[1:])
	case "serve":
		err = runServe(ctx, e, args[1:])
	case "revoke":
		err = runRevoke(ctx, e, args[1:])
	case "local":
		err = runLocal(ctx, e, args[1:])
	case "demo":
		err = runDemo(ctx, e, args[1:])
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "cognitokit: unknown command %q\n\n%s", args[0], usage)
		return exitUsage
	}
	var ue usageError
	var ex exitError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &ex):
		return ex.code
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "cognitokit %s: %s\n", args[0], oneLine(err))
		return exitUsage
	default:
		fmt.Fprintf(stderr, "cognitokit %s: %s\n", args[0], oneLine(err))
		return exitFail
	}
}

// oneLine keeps an error to one line, as errors on a terminal should be.
func oneLine(err error) string {
	return strings.ReplaceAll(err.Error(), "\n", "; ")
}

// usageError is a mistake in the command line or configuration (exit code 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// exitError ends a command with a code after it has already reported what went wrong.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// newFlagSet returns a flag set that reports errors instead of exiting and prints its
// help, synopsis first, to stdout.
func newFlagSet(name, synopsis string, stdout io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.Usage = func() {
		fmt.Fprintf(stdout, "%s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args, turning a flag error into a usageError. Flags may come before
// or after the positional arguments.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err}
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }
