//go:build !unix

package main

import "os"

// forwardedSignals are passed on to the command run is running.
func forwardedSignals() []os.Signal { return []os.Signal{os.Interrupt} }

// terminalSignal reports whether the console sends s to the command too.
func terminalSignal(s os.Signal) bool { return s == os.Interrupt }

// exitStatus is the command's exit status.
func exitStatus(ps *os.ProcessState) int { return ps.ExitCode() }
