//go:build unix

package main

import (
	"os"
	"syscall"
)

// forwardedSignals are passed on to the command run is running.
func forwardedSignals() []os.Signal {
	return []os.Signal{syscall.SIGTERM, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2, os.Interrupt, syscall.SIGQUIT}
}

// terminalSignal reports whether a terminal sends s to the whole
// foreground process group (so the command already has it).
func terminalSignal(s os.Signal) bool { return s == os.Interrupt || s == syscall.SIGQUIT }

// exitStatus is the command's exit status, 128+N when signal N ended it.
func exitStatus(ps *os.ProcessState) int {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}
