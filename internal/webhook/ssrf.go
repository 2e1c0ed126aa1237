package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"code.dny.dev/ssrf"
)

// ErrRefused is matched (errors.Is) by every refusal of a destination.
var ErrRefused = errors.New("webhook destination refused")

// RefusedError says which address was refused and why.
type RefusedError struct {
	Addr   netip.Addr
	Reason string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("destination %s is not allowed (%s)", e.Addr, e.Reason)
}

// Is makes errors.Is(err, ErrRefused) true.
func (e *RefusedError) Is(target error) bool { return target == ErrRefused }

// metadataPrefixes are refused even when private targets are allowed:
// cloud instance metadata services hand out credentials.
var metadataPrefixes = []netip.Prefix{
	netip.MustParsePrefix("169.254.0.0/16"),      // link-local: AWS, GCP, Azure, OpenStack metadata at 169.254.169.254, ECS at 169.254.170.2
	netip.MustParsePrefix("fe80::/10"),           // IPv6 link-local
	netip.MustParsePrefix("fd00:ec2::254/128"),   // AWS metadata over IPv6 (inside the unique-local range)
	netip.MustParsePrefix("100.100.100.200/32"),  // Alibaba Cloud metadata (inside the shared address space)
	netip.MustParsePrefix("64:ff9b::a9fe:0/112"), // NAT64 spelling of 169.254.0.0/16
}

// privatePrefixes are what AGENTGATE_WEBHOOK_ALLOW_PRIVATE opens.
var privatePrefixes = []netip.Prefix{
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("::1/128"),
	netip.MustParsePrefix("fc00::/7"),
}

// reasons names the ranges in refusal messages; the decision itself is
// made by code.dny.dev/ssrf and the prefixes above.
var reasons = []struct {
	prefix netip.Prefix
	reason string
}{
	{netip.MustParsePrefix("169.254.169.254/32"), "cloud metadata service"},
	{netip.MustParsePrefix("fd00:ec2::254/128"), "cloud metadata service"},
	{netip.MustParsePrefix("100.100.100.200/32"), "cloud metadata service"},
	{netip.MustParsePrefix("0.0.0.0/8"), "\"this network\" address"},
	{netip.MustParsePrefix("10.0.0.0/8"), "private network"},
	{netip.MustParsePrefix("172.16.0.0/12"), "private network"},
	{netip.MustParsePrefix("192.168.0.0/16"), "private network"},
	{netip.MustParsePrefix("100.64.0.0/10"), "carrier-grade NAT shared address space"},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"},
	{netip.MustParsePrefix("192.0.2.0/24"), "documentation range"},
	{netip.MustParsePrefix("198.51.100.0/24"), "documentation range"},
	{netip.MustParsePrefix("203.0.113.0/24"), "documentation range"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking range"},
	{netip.MustParsePrefix("::1/128"), "loopback"},
	{netip.MustParsePrefix("::/128"), "unspecified address"},
	{netip.MustParsePrefix("::ffff:0:0/96"), "IPv4-mapped IPv6 address"},
	{netip.MustParsePrefix("64:ff9b::/96"), "NAT64 address"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "NAT64 address"},
	{netip.MustParsePrefix("fc00::/7"), "unique-local (private) IPv6"},
	{netip.MustParsePrefix("fe80::/10"), "link-local"},
	{netip.MustParsePrefix("ff00::/8"), "multicast"},
	{netip.MustParsePrefix("2001:db8::/32"), "documentation range"},
	{netip.MustParsePrefix("2002::/16"), "6to4 address"},
}

func reasonOf(a netip.Addr) string {
	for _, r := range reasons {
		if r.prefix.Contains(a) {
			return r.reason
		}
	}
	return "special-purpose address"
}

// Guard decides which addresses webhooks may connect to. The default
// refuses every IANA special-purpose range (loopback, private, link-local,
// cloud metadata, CGNAT, multicast, IPv4-mapped IPv6, NAT64, ...). It is
// safe for concurrent use.
type Guard struct {
	base         *ssrf.Guardian
	allowPrivate bool
	allow        []netip.Prefix
}

// NewGuard returns a Guard. allowPrivate opens loopback and private
// ranges (never cloud metadata) for development and tests; allow opens
// the given prefixes (tests only).
func NewGuard(allowPrivate bool, allow ...netip.Prefix) *Guard {
	return &Guard{base: ssrf.New(ssrf.WithAnyPort()), allowPrivate: allowPrivate, allow: allow}
}

// Check returns a *RefusedError when a may not be connected to.
func (g *Guard) Check(a netip.Addr) error {
	a = a.WithZone("")
	for _, p := range metadataPrefixes {
		if p.Contains(a) {
			return &RefusedError{Addr: a, Reason: reasonOf(a)}
		}
	}
	for _, p := range g.allow {
		if p.Contains(a) {
			return nil
		}
	}
	if g.allowPrivate {
		for _, p := range privatePrefixes {
			if p.Contains(a) {
				return nil
			}
		}
	}
	if err := g.base.SafeAddr(a); err != nil {
		return &RefusedError{Addr: a, Reason: reasonOf(a)}
	}
	return nil
}

// Control is a net.Dialer Control function: it runs after DNS resolution,
// just before connect, on the address actually dialled.
func (g *Guard) Control(network, address string, _ syscall.RawConn) error {
	if network != "tcp4" && network != "tcp6" {
		return fmt.Errorf("%w: network %s is not allowed", ErrRefused, network)
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: cannot parse %q", ErrRefused, address)
	}
	return g.Check(ap.Addr())
}

// Resolver looks up host names; *net.Resolver implements it. Tests inject
// their own so that names resolve without a network.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// blockedNames are refused whatever they resolve to; the *.localhost
// names are refused too (RFC 6761 reserves them for loopback).
var blockedNames = map[string]string{
	"localhost":                  "loopback",
	"localhost.localdomain":      "loopback",
	"ip6-localhost":              "loopback",
	"ip6-loopback":               "loopback",
	"metadata":                   "cloud metadata service",
	"metadata.google.internal":   "cloud metadata service",
	"metadata.goog":              "cloud metadata service",
	"instance-data":              "cloud metadata service",
	"instance-data.ec2.internal": "cloud metadata service",
}

// Validator checks webhook URLs when they are saved. Its checks mirror
// what the Guard enforces at connect time, so that a bad URL is a clear
// 400 instead of a delivery that fails later.
type Validator struct {
	guard    *Guard
	resolver Resolver
	timeout  time.Duration
}

// NewValidator returns a Validator using guard's rules; resolver nil
// means net.DefaultResolver.
func NewValidator(guard *Guard, resolver Resolver) *Validator {
	if resolver == nil {
		resolver = net.DefaultResolver
	}
	return &Validator{guard: guard, resolver: resolver, timeout: 5 * time.Second}
}

// MaxURLLen bounds a webhook URL.
const MaxURLLen = 2048

// Validate checks raw and returns it normalised (scheme and host in lower
// case). Its error is a sentence that can be shown to the user.
func (v *Validator) Validate(ctx context.Context, raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", errors.New("url is required")
	}
	if len(raw) > MaxURLLen {
		return "", fmt.Errorf("url is longer than %d characters", MaxURLLen)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", errors.New("not a valid URL")
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", errors.New("scheme must be http or https")
	}
	if u.User != nil {
		return "", errors.New("credentials in the URL (user:password@) are not allowed; use the signature to authenticate deliveries")
	}
	if u.Opaque != "" || u.Host == "" {
		return "", errors.New("host is required")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return "", errors.New("port must be between 1 and 65535")
		}
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if host == "" {
		return "", errors.New("host is required")
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if a.Zone() != "" {
			return "", errors.New("IPv6 zone identifiers are not allowed")
		}
		if err := v.guard.Check(a); err != nil {
			return "", err
		}
		return v.normalise(u), nil
	}
	if numericHost(host) {
		return "", errors.New("host must be a domain name or an IP address in standard dotted or bracketed form")
	}
	if reason, ok := blockedNames[host]; ok && !(v.guard.allowPrivate && reason == "loopback") {
		return "", fmt.Errorf("host %s is not allowed (%s)", host, reason)
	}
	if strings.HasSuffix(host, ".localhost") && !v.guard.allowPrivate {
		return "", fmt.Errorf("host %s is not allowed (loopback)", host)
	}
	lctx, cancel := context.WithTimeout(ctx, v.timeout)
	defer cancel()
	addrs, err := v.resolver.LookupNetIP(lctx, "ip", host)
	if err != nil || len(addrs) == 0 {
		return "", fmt.Errorf("host %s does not resolve", host)
	}
	for _, a := range addrs {
		if err := v.guard.Check(a); err != nil {
			return "", fmt.Errorf("host %s resolves to a refused address: %w", host, err)
		}
	}
	return v.normalise(u), nil
}

func (v *Validator) normalise(u *url.URL) string {
	u.Host = strings.ToLower(u.Host)
	return u.String()
}

// numericHost reports whether host would be read as an IPv4 address by
// the WHATWG URL rules or inet_aton (its last label is a decimal or 0x
// number): 2130706433, 0x7f000001, 0177.0.0.1 and 127.1 all mean
// 127.0.0.1 to some resolvers. Only the standard dotted form is accepted,
// and that one parses with netip before this is asked.
func numericHost(host string) bool {
	label := host
	if i := strings.LastIndexByte(host, '.'); i >= 0 {
		label = host[i+1:]
	}
	if label == "" {
		return false
	}
	if strings.HasPrefix(label, "0x") {
		for _, c := range label[2:] {
			if !strings.ContainsRune("0123456789abcdef", c) {
				return false
			}
		}
		return true
	}
	for _, c := range label {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
