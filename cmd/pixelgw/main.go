// Command pixelgw is the gateway: one binary with subcommands.
//
//	pixelgw serve        run the edge, the admin API and the ops listener
//	pixelgw migrate      apply pending database migrations
//	pixelgw check-config validate the configuration and print it (secrets redacted)
//	pixelgw token        print a signed admin API token (HS256 keys)
//	pixelgw rotate-key   re-encrypt every stored secret under the active master key
//	pixelgw seed-demo    create the demo tenant (idempotent; used by `make run`)
//	pixelgw simulate     serve the platform simulator (dry runs)
//
// Every subcommand takes -config FILE (YAML) and reads PIXELGW_* variables.
// main is the only place that exits the process.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `usage: pixelgw <command> [flags]

commands:
  serve         run the gateway (edge, admin API, ops listener)
  migrate       apply pending database migrations
  check-config  validate the configuration and print it with secrets redacted
  token         print a signed admin API token: -tenant T -role R [-ttl D]
  rotate-key    re-encrypt every stored secret under secrets.master_key
  seed-demo     create the demo tenant "demo" if it does not exist
  simulate      serve the strict simulator of the five platform APIs: -listen ADDR

Run 'pixelgw <command> -h' for a command's flags.
`

// errUsage marks errors caused by the command line (exit status 2).
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr)
	stop()
	switch {
	case err == nil:
	case errors.Is(err, errUsage), errors.Is(err, flag.ErrHelp):
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "pixelgw:", err)
		os.Exit(1)
	}
}

// run executes one subcommand. ctx is cancelled on SIGINT/SIGTERM.
func run(ctx context.Context, args, env []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return cmdServe(ctx, rest, env, stderr)
	case "migrate":
		return cmdMigrate(ctx, rest, env, stdout, stderr)
	case "check-config":
		return cmdCheckConfig(rest, env, stdout, stderr)
	case "token":
		return cmdToken(ctx, rest, env, stdout, stderr)
	case "rotate-key":
		return cmdRotateKey(ctx, rest, env, stdout, stderr)
	case "seed-demo":
		return cmdSeedDemo(ctx, rest, env, stdout, stderr)
	case "simulate":
		return cmdSimulate(ctx, rest, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprintf(stderr, "pixelgw: unknown command %q\n\n%s", cmd, usage)
		return errUsage
	}
}

// newFlags returns a flag set with the common -config flag.
func newFlags(name string, stderr io.Writer) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("pixelgw "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := fs.String("config", "", "YAML configuration file (PIXELGW_* variables override it)")
	return fs, cfg
}

// parseFlags parses and maps flag errors to errUsage.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	return nil
}
