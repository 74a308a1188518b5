package e2e

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// prescaleServiceDNS is the name the aggregator verifies prescale's
// serving certificate against: <service>.<namespace>.svc of the Service
// the APIService points to.
const prescaleServiceDNS = "prescale.prescale-system.svc"

// pki holds the files of the test's certificates, all in one directory:
// the cluster CA signs kube-apiserver's serving certificate, the client
// certificates of the admin and of prescale, and prescale's serving
// certificate; the front-proxy CA signs the client certificate the
// aggregator presents to prescale; sa.key signs service account tokens.
type pki struct {
	Dir string

	CACert, CAKey                        string
	APIServerCert, APIServerKey          string
	AdminCert, AdminKey                  string
	PrescaleCert, PrescaleKey            string // serving, for prescaleServiceDNS
	PrescaleUserCert, PrescaleUserKey    string // client, user "prescale"
	FrontProxyCA, FrontProxyCAKey        string
	FrontProxyCert, FrontProxyKey        string
	ServiceAccountKey, ServiceAccountPub string
}

// newPKI writes a fresh set of keys and certificates (ECDSA P-256, valid
// for a day) to dir.
func newPKI(dir string) (*pki, error) {
	p := &pki{Dir: dir}
	path := func(name string) string { return filepath.Join(dir, name) }
	now := time.Now()

	ca, caKey, err := selfSigned("prescale-e2e-ca", now)
	if err != nil {
		return nil, err
	}
	fpCA, fpKey, err := selfSigned("prescale-e2e-front-proxy-ca", now)
	if err != nil {
		return nil, err
	}
	p.CACert, p.CAKey = path("ca.crt"), path("ca.key")
	p.FrontProxyCA, p.FrontProxyCAKey = path("front-proxy-ca.crt"), path("front-proxy-ca.key")
	if err := writePair(p.CACert, p.CAKey, ca, caKey); err != nil {
		return nil, err
	}
	if err := writePair(p.FrontProxyCA, p.FrontProxyCAKey, fpCA, fpKey); err != nil {
		return nil, err
	}

	loopback := []net.IP{net.IPv4(127, 0, 0, 1)}
	leaves := []struct {
		cert, key *string
		file      string
		signer    *x509.Certificate
		signerKey crypto.Signer
		tmpl      x509.Certificate
	}{
		{&p.APIServerCert, &p.APIServerKey, "apiserver", ca, caKey, x509.Certificate{
			Subject:     pkix.Name{CommonName: "kube-apiserver"},
			DNSNames:    []string{"localhost", "kubernetes", "kubernetes.default.svc"},
			IPAddresses: loopback,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		}},
		{&p.AdminCert, &p.AdminKey, "admin", ca, caKey, x509.Certificate{
			Subject:     pkix.Name{CommonName: "admin", Organization: []string{"system:masters"}},
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		}},
		{&p.PrescaleCert, &p.PrescaleKey, "prescale-serving", ca, caKey, x509.Certificate{
			Subject:     pkix.Name{CommonName: prescaleServiceDNS},
			DNSNames:    []string{prescaleServiceDNS, "localhost"},
			IPAddresses: loopback,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		}},
		// prescale talks to kube-apiserver as the user "prescale", with
		// only the RBAC an external metrics server needs (see rbac in
		// e2e_test.go), not as a cluster admin.
		{&p.PrescaleUserCert, &p.PrescaleUserKey, "prescale-client", ca, caKey, x509.Certificate{
			Subject:     pkix.Name{CommonName: "prescale"},
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		}},
		// The aggregator's identity towards prescale: kube-apiserver
		// publishes the front-proxy CA and this name in
		// kube-system/extension-apiserver-authentication.
		{&p.FrontProxyCert, &p.FrontProxyKey, "front-proxy-client", fpCA, fpKey, x509.Certificate{
			Subject:     pkix.Name{CommonName: "front-proxy-client"},
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		}},
	}
	for i, l := range leaves {
		tmpl := l.tmpl
		tmpl.SerialNumber = big.NewInt(int64(100 + i))
		tmpl.NotBefore = now.Add(-time.Hour)
		tmpl.NotAfter = now.Add(24 * time.Hour)
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		der, err := x509.CreateCertificate(rand.Reader, &tmpl, l.signer, key.Public(), l.signerKey)
		if err != nil {
			return nil, fmt.Errorf("certificate %s: %w", l.file, err)
		}
		cert, _ := x509.ParseCertificate(der)
		*l.cert, *l.key = path(l.file+".crt"), path(l.file+".key")
		if err := writePair(*l.cert, *l.key, cert, key); err != nil {
			return nil, err
		}
	}

	saKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	p.ServiceAccountKey, p.ServiceAccountPub = path("sa.key"), path("sa.pub")
	if err := writeKey(p.ServiceAccountKey, saKey); err != nil {
		return nil, err
	}
	pub, err := x509.MarshalPKIXPublicKey(saKey.Public())
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(p.ServiceAccountPub, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o644); err != nil {
		return nil, err
	}
	return p, nil
}

func selfSigned(cn string, now time.Time) (*x509.Certificate, crypto.Signer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, fmt.Errorf("CA %s: %w", cn, err)
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}

func writePair(certFile, keyFile string, cert *x509.Certificate, key crypto.Signer) error {
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o644); err != nil {
		return err
	}
	return writeKey(keyFile, key)
}

func writeKey(file string, key crypto.Signer) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	return os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
}

// writeKubeconfig writes a kubeconfig for server that trusts caFile and
// logs in with the client certificate.
func writeKubeconfig(file, server, caFile, certFile, keyFile string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["e2e"] = &clientcmdapi.Cluster{Server: server, CertificateAuthority: caFile}
	cfg.AuthInfos["e2e"] = &clientcmdapi.AuthInfo{ClientCertificate: certFile, ClientKey: keyFile}
	cfg.Contexts["e2e"] = &clientcmdapi.Context{Cluster: "e2e", AuthInfo: "e2e"}
	cfg.CurrentContext = "e2e"
	return clientcmd.WriteToFile(*cfg, file)
}
