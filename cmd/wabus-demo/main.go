// Command wabus-demo drives the one-command demo (make demo, see
// scripts/demo.sh) against a worker and admin running with WA_DRIVER=sim:
// it pairs a tenant through admin's API and a simulated scan, sends a few
// jobs through admin, lets a simulated contact write, and prints every
// event, dead letter and simulated delivery as it arrives.
//
//	wabus-demo ports N   print N free TCP ports on 127.0.0.1
//	wabus-demo run       the demo (flags: wabus-demo run -h)
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: wabus-demo ports N | wabus-demo run [flags]")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "ports":
		err = printPorts(os.Args[2:])
	case "run":
		err = run(ctx, os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "wabus-demo:", err)
		os.Exit(1)
	}
}
