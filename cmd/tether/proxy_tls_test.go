package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/tether-desktop/tether/protocol"
)

// relayHost resolves to loopback (scripts/setup --test puts it in /etc/hosts)
// without being a literal loopback address, which Go never sends through a proxy.
const relayHost = "tether-relay.test"

// testCA is a private certificate authority and a relay certificate it signed.
type testCA struct {
	caFile, certFile, keyFile string
	pool                      *x509.CertPool
}

func newTestCA(t *testing.T, dir string, hosts ...string) *testCA {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Tether test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: hosts[0]},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	c := &testCA{caFile: filepath.Join(dir, "ca.pem"), certFile: filepath.Join(dir, "relay.pem"), keyFile: filepath.Join(dir, "relay.key"), pool: x509.NewCertPool()}
	c.pool.AddCert(ca)
	for path, block := range map[string]*pem.Block{
		c.caFile: {Type: "CERTIFICATE", Bytes: caDER}, c.certFile: {Type: "CERTIFICATE", Bytes: der}, c.keyFile: {Type: "EC PRIVATE KEY", Bytes: keyDER},
	} {
		if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// TestThroughProxyToTLSRelay runs the relay behind TLS with a private CA and
// the agent behind an HTTP CONNECT proxy (tinyproxy): the agent trusts the CA
// with --ca-file and connects through the proxy; without the CA it refuses
// the relay's certificate.
func TestThroughProxyToTLSRelay(t *testing.T) {
	if testing.Short() {
		t.Skip("runs tinyproxy and both binaries")
	}
	tinyproxy, err := exec.LookPath("tinyproxy")
	addrs, _ := net.LookupHost(relayHost)
	if err != nil || len(addrs) == 0 || !net.ParseIP(addrs[0]).IsLoopback() {
		if os.Getenv("TETHER_REQUIRE_DESKTOP") != "" {
			t.Fatalf("need tinyproxy and %s → 127.0.0.1 in /etc/hosts: scripts/setup --test provides both", relayHost)
		}
		t.Skipf("need tinyproxy and %s → 127.0.0.1 (scripts/setup --test)", relayHost)
	}
	dir := t.TempDir()
	ca := newTestCA(t, dir, relayHost, "127.0.0.1")
	relayBin, _ := binaries(t)
	addr := freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	relayURL := "https://" + relayHost + ":" + port
	start(t, "relay", nil, relayBin, "--listen", addr, "--data", filepath.Join(dir, "relay"),
		"--tls-cert", ca.certFile, "--tls-key", ca.keyFile, "--public-url", relayURL)
	tlsClient := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.pool}}}
	waitFor(t, "the TLS relay", func() bool {
		resp, err := tlsClient.Get(relayURL + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == 200
	})

	proxyAddr := freeAddr(t)
	_, proxyPort, _ := net.SplitHostPort(proxyAddr)
	conf := filepath.Join(dir, "tinyproxy.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf("Port %s\nListen 127.0.0.1\nTimeout 600\nAllow 127.0.0.1\nConnectPort %s\nLogLevel Connect\n", proxyPort, port)), 0o644)
	proxy := start(t, "tinyproxy", nil, tinyproxy, "-d", "-c", conf)
	waitFor(t, "tinyproxy", func() bool {
		c, err := net.Dial("tcp", proxyAddr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})

	home := filepath.Join(dir, "home")
	os.MkdirAll(home, 0o700)
	env := append(agentEnv(t, home), "HTTPS_PROXY=http://"+proxyAddr, "NO_PROXY=", "no_proxy=", "TETHER_CA_FILE="+ca.caFile)
	agent := startAgent(t, relayURL, filepath.Join(dir, "agent"), env)
	waitFor(t, "agent registration", func() bool {
		_, err := os.Stat(filepath.Join(agent.configDir, "credentials.json"))
		return err == nil
	})
	pairCode := agent.pairingCode()

	// A browser-like client straight to the relay, trusting the CA.
	body := strings.NewReader(`{"code":"` + pairCode + `"}`)
	resp, err := tlsClient.Post(relayURL+"/api/v1/pairings", "application/json", body)
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("pair over TLS: %v %v", resp, err)
	}
	// The session cookie under TLS: HttpOnly, SameSite=Strict, Secure.
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "tether_session" {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly || !cookie.Secure || cookie.SameSite != http.SameSiteStrictMode || cookie.Path != "/" {
		t.Fatalf("session cookie %+v, want HttpOnly, Secure, SameSite=Strict, Path=/", cookie)
	}
	var paired map[string]string
	jsonDecode(t, resp, &paired)
	dialer := &websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: ca.pool}}
	conn, _, err := dialer.Dial("wss://"+relayHost+":"+port+"/ws/client", http.Header{"Authorization": {"Bearer " + paired["session_token"]}})
	if err != nil {
		t.Fatal(err)
	}
	c := &client{t: t, conn: conn, session: paired["session_token"]}
	t.Cleanup(func() { conn.Close() })
	c.next(protocol.TypeWelcome)
	c.presence(paired["device_id"], func(p protocol.Presence) bool { return p.Online })
	if got := code(c.command(paired["device_id"], "beep", map[string]int{"duration_ms": 20})); got != "ok" && got != protocol.CodeUnavailable {
		t.Fatalf("beep through the proxy: %s", got)
	}
	// The agent's traffic went through the proxy.
	log, _ := os.ReadFile(proxy.log)
	if !strings.Contains(string(log), relayHost) {
		t.Fatalf("tinyproxy saw no connection to %s:\n%s", relayHost, tail(log, 20))
	}

	// Without the CA, the relay's certificate is refused.
	stranger := &agentProc{proc: &proc{t: t}, configDir: filepath.Join(dir, "stranger"), relayURL: relayURL,
		env: append(agentEnv(t, home), "HTTPS_PROXY=http://"+proxyAddr, "NO_PROXY=", "no_proxy=")}
	_, err = stranger.cli("pair", "--json")
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("pairing without the CA: %v; want a certificate error", err)
	}
	t.Logf("without the CA: %v", err)
}

func jsonDecode(t *testing.T, resp *http.Response, out any) {
	t.Helper()
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatal(err)
	}
}
