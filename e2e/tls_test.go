package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestTLS serves HTTPS from --tls-cert and --tls-key: the API answers over TLS, plain HTTP
// is refused, and the console's session cookie is Secure with the __Host- prefix.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key := selfSigned(t, dir)
	srv := binary.Start(t, dir, filepath.Join(dir, "tokenward.db"), "--tls-cert", cert, "--tls-key", key)
	base := strings.Replace(srv.URL, "http://", "https://", 1)
	client := &http.Client{
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	res, err := client.Get(base + "/healthz")
	if err != nil || res.StatusCode != 200 || res.TLS == nil {
		t.Fatalf("GET /healthz over TLS: %v %v", res, err)
	}
	res.Body.Close()
	if res, err := http.Get(srv.URL + "/healthz"); err == nil && res.StatusCode == 200 {
		t.Errorf("plain HTTP answered 200 on a TLS listener")
	}
	password := regexp.MustCompile(`shown this once: (\S+)`).FindStringSubmatch(srv.Stdout.String())[1]
	res, err = client.PostForm(base+"/console/signin", url.Values{"email": {"admin@localhost"}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	cookie := res.Header.Get("Set-Cookie")
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(cookie, "__Host-tokenward_session=") || !strings.Contains(cookie, "Secure") {
		t.Errorf("sign-in over TLS: %d, Set-Cookie %q; want 303 and a __Host- Secure cookie", res.StatusCode, cookie)
	}
	if _, errOut, code := binary.Run(t, dir, "", "serve", "--tls-cert", cert); code != 2 || !strings.Contains(errOut, "go together") {
		t.Errorf("--tls-cert without --tls-key: exit %d, %q", code, errOut)
	}
}

// selfSigned writes a certificate and key for 127.0.0.1 and returns their paths.
func selfSigned(t *testing.T, dir string) (string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPath, keyPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)
	return certPath, keyPath
}
