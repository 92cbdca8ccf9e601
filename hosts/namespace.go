package hosts

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// namePrefix starts the name of every namespace kcplab makes.
const namePrefix = "kcplab-"

// runDir is where iproute2 (and netns.NewNamed) bind named namespaces.
const runDir = "/run/netns"

var nsCount atomic.Int64

// Namespace is a network namespace this process created, with its loopback up. Close deletes it.
type Namespace struct {
	Name   string
	handle netns.NsHandle
	nl     *netlink.Handle
}

// Decide resolves a setting of on, off or auto (on when Available) for work between namespaces: why
// is "" when they are to be made, else why not. A setting that is none of the three, or on where
// namespaces cannot be made, is an error.
func Decide(setting string) (why string, err error) {
	switch avail := Available(); setting {
	case "on":
		if avail != nil {
			return "", fmt.Errorf("on: %w", avail)
		}
		return "", nil
	case "off":
		return "turned off", nil
	case "auto":
		if avail != nil {
			return avail.Error(), nil
		}
		return "", nil
	}
	return "", fmt.Errorf("%q: want on, off or auto", setting)
}

// Available reports why this process cannot make namespaces and TUN devices, or nil if it can.
func Available() error {
	if os.Geteuid() != 0 {
		return errors.New("network namespaces and TUN devices need root (CAP_SYS_ADMIN, CAP_NET_ADMIN): run as root, or through sudo")
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		return fmt.Errorf("no TUN device (/dev/net/tun): load the tun module (modprobe tun): %w", err)
	}
	return nil
}

// NewNamespace makes a named network namespace for role (a short word: "a", "client") with its
// loopback up. The calling goroutine's thread stays in the namespace it was in.
func NewNamespace(role string) (*Namespace, error) {
	if err := Available(); err != nil {
		return nil, err
	}
	name := fmt.Sprintf("%s%d-%s-%d", namePrefix, os.Getpid(), role, nsCount.Add(1))
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		return nil, fmt.Errorf("hosts: current namespace: %w", err)
	}
	defer orig.Close()
	h, err := netns.NewNamed(name) // moves this thread into the new namespace
	if err != nil {
		return nil, fmt.Errorf("hosts: new namespace %s: %w", name, err)
	}
	if err := netns.Set(orig); err != nil {
		// The thread cannot go back: keep it locked so that it dies with this goroutine.
		runtime.LockOSThread()
		h.Close()
		_ = netns.DeleteNamed(name)
		return nil, fmt.Errorf("hosts: back to the original namespace: %w", err)
	}
	n := &Namespace{Name: name, handle: h}
	if n.nl, err = netlink.NewHandleAt(h); err != nil {
		n.Close()
		return nil, fmt.Errorf("hosts: netlink in %s: %w", name, err)
	}
	// IPv4 only: without IPv6 the kernel sends nothing of its own (router solicitations, MLD
	// reports) through the devices, so every packet between the hosts is the workload's.
	if err := n.Do(func() error {
		return os.WriteFile("/proc/sys/net/ipv6/conf/all/disable_ipv6", []byte("1"), 0)
	}); err != nil && !errors.Is(err, os.ErrNotExist) {
		n.Close()
		return nil, fmt.Errorf("hosts: disable IPv6 in %s: %w", name, err)
	}
	if err := n.Do(func() error {
		return os.WriteFile("/proc/sys/net/ipv6/conf/default/disable_ipv6", []byte("1"), 0)
	}); err != nil && !errors.Is(err, os.ErrNotExist) {
		n.Close()
		return nil, fmt.Errorf("hosts: disable IPv6 in %s: %w", name, err)
	}
	lo, err := n.nl.LinkByName("lo")
	if err == nil {
		err = n.nl.LinkSetUp(lo)
	}
	if err != nil {
		n.Close()
		return nil, fmt.Errorf("hosts: loopback up in %s: %w", name, err)
	}
	return n, nil
}

// Do runs f on an OS thread inside the namespace. Sockets and TUN devices that f creates belong to
// the namespace and stay there when used from any goroutine afterwards; goroutines f starts do not
// run in it.
func (n *Namespace) Do(f func() error) error {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("hosts: current namespace: %w", err)
	}
	defer orig.Close()
	if err := netns.Set(n.handle); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("hosts: enter %s: %w", n.Name, err)
	}
	ferr := f()
	if err := netns.Set(orig); err != nil {
		// Leave the thread locked: it ends with this goroutine instead of serving others in n.
		return fmt.Errorf("hosts: leave %s: %w", n.Name, err)
	}
	runtime.UnlockOSThread()
	return ferr
}

// Netlink returns a netlink handle that configures the namespace's links, addresses and routes.
func (n *Namespace) Netlink() *netlink.Handle { return n.nl }

// Exec returns the argv that runs a command inside the namespace (ip netns exec NAME ...).
func (n *Namespace) Exec(argv ...string) []string {
	return append([]string{"ip", "netns", "exec", n.Name}, argv...)
}

// Close deletes the namespace; devices inside it go with it. Close is idempotent.
func (n *Namespace) Close() error {
	if n.nl != nil {
		n.nl.Close()
		n.nl = nil
	}
	if n.handle.IsOpen() {
		n.handle.Close()
		n.handle = netns.None()
		if err := netns.DeleteNamed(n.Name); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("hosts: delete %s: %w", n.Name, err)
		}
	}
	return nil
}

// Sweep deletes the namespaces that kcplab processes which are gone left behind (killed before their
// cleanup ran), and returns their names. Namespaces of live processes are left alone.
func Sweep() ([]string, error) {
	ents, err := os.ReadDir(runDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var gone []string
	var errs []error
	for _, e := range ents {
		pid, ok := ownerPID(e.Name())
		if !ok || alive(pid) {
			continue
		}
		if err := netns.DeleteNamed(e.Name()); err != nil {
			errs = append(errs, fmt.Errorf("hosts: sweep %s: %w", filepath.Join(runDir, e.Name()), err))
			continue
		}
		gone = append(gone, e.Name())
	}
	return gone, errors.Join(errs...)
}

// Owned returns the names of the namespaces this process made that still exist.
func Owned() []string {
	ents, _ := os.ReadDir(runDir)
	var out []string
	for _, e := range ents {
		if pid, ok := ownerPID(e.Name()); ok && pid == os.Getpid() {
			out = append(out, e.Name())
		}
	}
	return out
}

// ownerPID reads the pid out of a kcplab namespace's name.
func ownerPID(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, namePrefix)
	if !ok {
		return 0, false
	}
	p, _, _ := strings.Cut(rest, "-")
	pid, err := strconv.Atoi(p)
	return pid, err == nil && pid > 0
}

// alive reports whether process pid exists.
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
