package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
)

// cpuLimit is a CPU quota for one started server, like a Kubernetes pod's
// CPU limit: a cgroup of its own with cfs_quota/cfs_period (cgroup v1) or
// cpu.max (cgroup v2). The server is started inside it, so the Go runtime
// sizes GOMAXPROCS to the limit as it would in a container.
type cpuLimit struct {
	dir string // the cgroup directory
}

const cfsPeriodUS = 100000

// newCPULimit makes a cgroup allowing cpus CPUs (0.5 = half a core).
func newCPULimit(name string, cpus float64) (*cpuLimit, error) {
	if runtime.GOOS != "linux" {
		return nil, errors.New("-replica-cpus needs Linux cgroups")
	}
	quota := strconv.Itoa(int(cpus * cfsPeriodUS))
	if v1 := "/sys/fs/cgroup/cpu"; exists(filepath.Join(v1, "cpu.cfs_quota_us")) {
		dir := filepath.Join(v1, name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			return nil, fmt.Errorf("cgroup v1: %w", err)
		}
		l := &cpuLimit{dir: dir}
		if err := l.write("cpu.cfs_period_us", strconv.Itoa(cfsPeriodUS)); err != nil {
			return nil, err
		}
		return l, l.write("cpu.cfs_quota_us", quota)
	}
	// cgroup v2: the cpu controller must be enabled for children of the root.
	dir := filepath.Join("/sys/fs/cgroup", name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cgroup v2: %w", err)
	}
	l := &cpuLimit{dir: dir}
	return l, l.write("cpu.max", quota+" "+strconv.Itoa(cfsPeriodUS))
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func (l *cpuLimit) write(file, v string) error {
	if err := os.WriteFile(filepath.Join(l.dir, file), []byte(v), 0o644); err != nil {
		return fmt.Errorf("cpu limit: %w (run as root on a machine with a writable cgroup cpu controller)", err)
	}
	return nil
}

// wrap returns the command line that enters the cgroup and then becomes
// argv (exec keeps the pid, so /proc statistics stay the server's).
func (l *cpuLimit) wrap(argv []string) []string {
	script := `echo $$ > "$0/cgroup.procs" && exec "$@"`
	return append([]string{"/bin/sh", "-c", script, l.dir}, argv...)
}

// remove deletes the cgroup once its process has exited.
func (l *cpuLimit) remove() { _ = os.Remove(l.dir) }
