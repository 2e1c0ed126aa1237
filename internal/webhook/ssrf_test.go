package webhook

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeResolver answers from a table and fails for any other name, so no
// test sends a DNS query.
type fakeResolver map[string][]string

func (f fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	addrs, ok := f[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	out := make([]netip.Addr, len(addrs))
	for i, a := range addrs {
		out[i] = netip.MustParseAddr(a)
	}
	return out, nil
}

var testResolver = fakeResolver{
	"hooks.example.com":    {"93.184.216.34"},
	"v6.example.com":       {"2606:2800:220:1:248:1893:25c8:1946"},
	"loopback.example.com": {"127.0.0.1"},
	"rebind.example.com":   {"93.184.216.34", "10.0.0.7"}, // one public, one private address
	"meta.example.com":     {"169.254.169.254"},
	"mapped.example.com":   {"::ffff:127.0.0.1"},
	"private.example.com":  {"192.168.1.20"},
}

// refusedURLs must all be refused at save time (the acceptance table).
var refusedURLs = []struct {
	url, want string // want: a part of the reason
}{
	{"http://127.0.0.1/", "loopback"},
	{"http://127.0.0.1:8080/hook", "loopback"},
	{"http://127.1.2.3/", "loopback"},
	{"http://[::1]/", "loopback"},
	{"http://[::ffff:127.0.0.1]/", "IPv4-mapped"},
	{"http://[::ffff:169.254.169.254]/", "IPv4-mapped"},
	{"http://[::ffff:7f00:1]/", "IPv4-mapped"},
	{"http://169.254.169.254/latest/meta-data/", "cloud metadata"},
	{"http://169.254.170.2/v2/credentials", "link-local"},
	{"http://[fd00:ec2::254]/", "cloud metadata"},
	{"http://100.100.100.200/", "cloud metadata"},
	{"http://[64:ff9b::a9fe:a9fe]/", "NAT64"},
	{"http://[64:ff9b::7f00:1]/", "NAT64"},
	{"http://0.0.0.0/", "this network"},
	{"http://[::]/", "unspecified"},
	{"http://10.0.0.1/", "private"},
	{"http://172.16.5.4/", "private"},
	{"http://192.168.0.1/", "private"},
	{"http://100.64.0.1/", "carrier-grade NAT"},
	{"http://[fc00::1]/", "unique-local"},
	{"http://[fe80::1]/", "link-local"},
	{"http://[fe80::1%25eth0]/", "zone"},
	{"http://224.0.0.1/", "multicast"},
	{"http://[ff02::1]/", "multicast"},
	{"http://255.255.255.255/", "reserved"},
	{"http://192.0.2.10/", "documentation"},
	{"http://198.18.0.1/", "benchmarking"},
	{"http://0x7f000001/", "standard dotted"},
	{"http://2130706433/", "standard dotted"},
	{"http://0177.0.0.1/", "standard dotted"},
	{"http://127.1/", "standard dotted"},
	{"http://0x7f.0.0.1/", "standard dotted"},
	{"http://localhost/", "loopback"},
	{"http://LOCALHOST:3000/", "loopback"},
	{"http://api.localhost/", "loopback"},
	{"http://metadata.google.internal/computeMetadata/v1/", "cloud metadata"},
	{"http://metadata/", "cloud metadata"},
	{"http://loopback.example.com/", "resolves to a refused address"},
	{"http://rebind.example.com/", "resolves to a refused address"},
	{"http://meta.example.com/", "resolves to a refused address"},
	{"http://mapped.example.com/", "resolves to a refused address"},
	{"http://nowhere.example.com/", "does not resolve"},
	{"ftp://hooks.example.com/", "scheme"},
	{"file:///etc/passwd", "scheme"},
	{"gopher://hooks.example.com/", "scheme"},
	{"javascript:alert(1)", "scheme"},
	{"https://user:pass@hooks.example.com/", "credentials"},
	{"https://hooks.example.com:0/", "port"},
	{"/relative/path", "scheme"},
	{"", "required"},
}

func TestValidatorRefuses(t *testing.T) {
	t.Parallel()
	v := NewValidator(NewGuard(false), testResolver)
	if len(refusedURLs) < 25 {
		t.Fatalf("the table must hold at least 25 URLs, has %d", len(refusedURLs))
	}
	for _, tc := range refusedURLs {
		t.Run(tc.url, func(t *testing.T) {
			_, err := v.Validate(context.Background(), tc.url)
			if err == nil {
				t.Fatalf("Validate(%q) accepted a URL that must be refused", tc.url)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate(%q) = %q, want a reason containing %q", tc.url, err, tc.want)
			}
		})
	}
}

func TestValidatorAccepts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		url, want    string
		allowPrivate bool
	}{
		{"public name", "https://hooks.example.com/agentgate?x=1", "https://hooks.example.com/agentgate?x=1", false},
		{"upper-case scheme and host", "HTTPS://Hooks.Example.COM/a", "https://hooks.example.com/a", false},
		{"IPv6 name", "https://v6.example.com:8443/", "https://v6.example.com:8443/", false},
		{"public literal", "http://93.184.216.34/hook", "http://93.184.216.34/hook", false},
		{"allow private: loopback literal", "http://127.0.0.1:9000/h", "http://127.0.0.1:9000/h", true},
		{"allow private: localhost", "http://localhost:9000/h", "http://localhost:9000/h", true},
		{"allow private: private name", "http://private.example.com/", "http://private.example.com/", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := NewValidator(NewGuard(tc.allowPrivate), fakeResolver{
				"hooks.example.com": {"93.184.216.34"}, "v6.example.com": {"2606:2800:220:1:248:1893:25c8:1946"},
				"localhost": {"127.0.0.1", "::1"}, "private.example.com": {"192.168.1.20"},
			})
			got, err := v.Validate(context.Background(), tc.url)
			if err != nil {
				t.Fatalf("Validate(%q): %v", tc.url, err)
			}
			if got != tc.want {
				t.Errorf("Validate(%q) = %q, want %q", tc.url, got, tc.want)
			}
		})
	}
}

func TestAllowPrivateStillRefusesMetadata(t *testing.T) {
	t.Parallel()
	v := NewValidator(NewGuard(true), testResolver)
	for _, u := range []string{"http://169.254.169.254/", "http://[fd00:ec2::254]/", "http://100.100.100.200/",
		"http://metadata.google.internal/", "http://meta.example.com/", "http://[::ffff:169.254.169.254]/"} {
		if _, err := v.Validate(context.Background(), u); err == nil {
			t.Errorf("with private targets allowed, Validate(%q) accepted a metadata address", u)
		}
	}
}

// TestClientRefusesAtConnect checks the dial-time guard: every URL is
// refused before a connection is attempted, including names that resolve
// to refused addresses (DNS rebinding) and forms the validator refuses
// (the client does not rely on the validator).
func TestClientRefusesAtConnect(t *testing.T) {
	t.Parallel()
	c := NewClient(NewGuard(false), ClientOptions{Timeout: 2 * time.Second, Resolver: testResolver})
	urls := []string{
		"http://127.0.0.1:1/", "http://[::1]:1/", "http://[::ffff:169.254.169.254]/", "http://[::ffff:127.0.0.1]:1/",
		"http://169.254.169.254/", "http://10.0.0.1/", "http://100.64.0.1/", "http://[fd00:ec2::254]/",
		"http://[64:ff9b::a9fe:a9fe]/", "http://0.0.0.0:1/", "http://224.0.0.1/",
		"http://0x7f000001:1/", "http://2130706433:1/",
		"http://loopback.example.com:1/", "http://meta.example.com/", "http://mapped.example.com:1/",
	}
	for _, u := range urls {
		t.Run(u, func(t *testing.T) {
			res := c.Post(context.Background(), u, http.Header{}, []byte(`{}`))
			if !errors.Is(res.Err, ErrRefused) {
				t.Fatalf("Post(%q) = status %d, err %v; want a refusal", u, res.StatusCode, res.Err)
			}
			if outcomeOf(res) != outcomePermanent {
				t.Errorf("a refused destination must be a permanent failure")
			}
		})
	}
}

// TestClientRefusesRebindingName resolves a name to a public and a loopback
// address; the loopback one is refused at connect time and, with no
// other address reachable, the post fails without reaching the receiver.
func TestClientDialTimeGuardOnResolvedName(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	t.Cleanup(rcv.Close)
	port := rcv.URL[strings.LastIndexByte(rcv.URL, ':')+1:]
	res := NewClient(NewGuard(false), ClientOptions{Resolver: testResolver}).
		Post(context.Background(), "http://loopback.example.com:"+port+"/", http.Header{}, []byte(`{}`))
	if !errors.Is(res.Err, ErrRefused) || hits.Load() != 0 {
		t.Fatalf("a name resolving to 127.0.0.1 reached the receiver: err %v, hits %d", res.Err, hits.Load())
	}
	// The same name with the receiver's address allowed reaches it: the
	// refusal above came from the guard, not from a broken dial.
	res = NewClient(NewGuard(false, netip.MustParsePrefix("127.0.0.1/32")), ClientOptions{Resolver: testResolver}).
		Post(context.Background(), "http://loopback.example.com:"+port+"/", http.Header{}, []byte(`{}`))
	if res.Err != nil || res.StatusCode != 200 || hits.Load() != 1 {
		t.Fatalf("allowed receiver: status %d, err %v, hits %d", res.StatusCode, res.Err, hits.Load())
	}
}

// TestRedirectNotFollowed simulates a public receiver (127.0.0.1 allowed
// through the guard's test-only allow list) that redirects to the cloud
// metadata address and to another allowed receiver: neither redirect is
// followed, and the 3xx counts as a failed attempt.
func TestRedirectNotFollowed(t *testing.T) {
	t.Parallel()
	var second atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { second.Add(1) }))
	t.Cleanup(target.Close)
	for _, loc := range []string{"http://169.254.169.254/latest/meta-data/iam/security-credentials/", target.URL + "/stolen"} {
		t.Run(loc, func(t *testing.T) {
			rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, loc, http.StatusTemporaryRedirect)
			}))
			t.Cleanup(rcv.Close)
			c := NewClient(NewGuard(false, netip.MustParsePrefix("127.0.0.1/32")), ClientOptions{Timeout: 2 * time.Second})
			res := c.Post(context.Background(), rcv.URL, http.Header{}, []byte(`{}`))
			if res.Err != nil || res.StatusCode != http.StatusTemporaryRedirect {
				t.Fatalf("Post = status %d, err %v; want the 307 itself", res.StatusCode, res.Err)
			}
			if outcomeOf(res) == outcomeSuccess {
				t.Error("a redirect counted as a success")
			}
			if got := errorText(res); !strings.Contains(got, "redirects are not followed") {
				t.Errorf("error text %q", got)
			}
		})
	}
	if n := second.Load(); n != 0 {
		t.Fatalf("the redirect target was contacted %d times", n)
	}
	// Were a redirect followed, the guard would refuse the metadata
	// address at connect time anyway.
	g := NewGuard(false, netip.MustParsePrefix("127.0.0.1/32"))
	if err := g.Control("tcp4", "169.254.169.254:80", nil); !errors.Is(err, ErrRefused) {
		t.Fatalf("guard allowed 169.254.169.254: %v", err)
	}
}

func TestGuardControl(t *testing.T) {
	t.Parallel()
	tests := []struct {
		network, addr string
		allowPrivate  bool
		ok            bool
	}{
		{"tcp4", "93.184.216.34:443", false, true},
		{"tcp6", "[2606:2800:220:1:248:1893:25c8:1946]:443", false, true},
		{"tcp4", "8.8.8.8:8080", false, true}, // any port
		{"tcp4", "127.0.0.1:80", false, false},
		{"tcp4", "127.0.0.1:80", true, true},
		{"tcp4", "10.1.2.3:80", true, true},
		{"tcp6", "[::1]:80", true, true},
		{"tcp4", "169.254.169.254:80", true, false},
		{"tcp6", "[fd00:ec2::254]:80", true, false},
		{"tcp4", "100.64.0.1:80", true, false}, // CGNAT is not "private" here
		{"tcp6", "[::ffff:127.0.0.1]:80", true, false},
		{"udp4", "93.184.216.34:53", false, false},
		{"tcp4", "not-an-address", false, false},
	}
	for _, tc := range tests {
		err := NewGuard(tc.allowPrivate).Control(tc.network, tc.addr, nil)
		if (err == nil) != tc.ok {
			t.Errorf("Control(%s, %s, allowPrivate=%v) = %v, want ok=%v", tc.network, tc.addr, tc.allowPrivate, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrRefused) {
			t.Errorf("Control(%s, %s) error %v does not match ErrRefused", tc.network, tc.addr, err)
		}
	}
}
