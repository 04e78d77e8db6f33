package agent

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"path/filepath"

	"github.com/gorilla/websocket"
)

// Clients returns the HTTP client and WebSocket dialer for a relay whose
// certificate is signed by the CA in caFile (PEM), trusted in addition to the
// system's roots. Both honour HTTPS_PROXY, HTTP_PROXY and NO_PROXY. With an
// empty caFile it returns nil for both: the defaults of Config apply.
func Clients(caFile string) (*http.Client, *websocket.Dialer, error) {
	if caFile == "" {
		return nil, nil, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, nil, fmt.Errorf("read CA file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, nil, fmt.Errorf("CA file %s holds no PEM certificate", caFile)
	}
	conf := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	// Each gets its own copy: the HTTP transport adds "h2" to its config's
	// protocols, which would make the WebSocket handshake fail.
	tr.TLSClientConfig = conf.Clone()
	return &http.Client{Transport: tr},
		&websocket.Dialer{Proxy: http.ProxyFromEnvironment, HandshakeTimeout: handshakeTimeout, TLSClientConfig: conf.Clone()},
		nil
}

// ResolveCAFile picks the CA file: the flag (or environment) first, which is
// then remembered in config.json as an absolute path so that later commands
// and the service use it too; else the one remembered.
func ResolveCAFile(dir, flag string) (string, error) {
	s, err := LoadSettings(dir)
	if err != nil {
		return "", err
	}
	if flag == "" {
		return s.CAFile, nil
	}
	abs, err := filepath.Abs(flag)
	if err != nil {
		return "", fmt.Errorf("CA file: %w", err)
	}
	if abs != s.CAFile {
		s.CAFile = abs
		if err := SaveSettings(dir, s); err != nil {
			return "", err
		}
	}
	return abs, nil
}
