package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/authenticatorfactory"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/authorization/authorizerfactory"
	"k8s.io/apiserver/pkg/server/dynamiccertificates"
	"k8s.io/client-go/kubernetes"

	"github.com/prescale/prescale/api"
)

// The modes of --auth.
const (
	authKubernetes = "kubernetes"
	authNone       = "none"
)

// How long a TokenReview or SubjectAccessReview answer is reused, and how
// long one may take: the defaults of Kubernetes' delegating authentication.
const (
	authCacheTTL = 10 * time.Second
	authTimeout  = 10 * time.Second
)

// authOptions are serve's flags of authentication, authorization and TLS
// for the REST and gRPC listeners. The external metrics API has its own
// (the adapter's --tls-cert-file, --authentication-kubeconfig, ...).
type authOptions struct {
	mode           string
	kubeconfig     string
	anonymousReads bool
	certFile       string
	keyFile        string
	clientCAFile   string
}

func (a *authOptions) bind(fs *flag.FlagSet) {
	fs.StringVar(&a.mode, "auth", authKubernetes, "who may call the REST and gRPC APIs: kubernetes (a write needs an identity, a bearer token checked with a TokenReview or a client certificate of --tls.client-ca-file, and a SubjectAccessReview allowing its verb on targets.prescale.io) or none (anyone who can connect may change targets; logged as a warning)")
	fs.StringVar(&a.kubeconfig, "auth.kubeconfig", "", "kubeconfig of the Kubernetes API that checks tokens (TokenReview) and permissions (SubjectAccessReview); default: the in-cluster config, none outside a cluster")
	fs.BoolVar(&a.anonymousReads, "auth.anonymous-reads", true, "allow reads (get, list: the REST API the web pages read too) without an identity; with false they are checked like writes, and the pages ask for a bearer token")
	fs.StringVar(&a.certFile, "tls.cert-file", "", "serve REST and gRPC over TLS with this certificate (PEM; reloaded when it changes); needs --tls.key-file")
	fs.StringVar(&a.keyFile, "tls.key-file", "", "the private key of --tls.cert-file (PEM)")
	fs.StringVar(&a.clientCAFile, "tls.client-ca-file", "", "CA bundle (PEM; reloaded when it changes) whose client certificates identify callers of REST and gRPC: the certificate's common name is the user, its organizations the groups; needs --tls.cert-file")
}

func (a *authOptions) check() error {
	switch {
	case a.mode != authKubernetes && a.mode != authNone:
		return fmt.Errorf("%w: --auth %q: want %s or %s", errUsage, a.mode, authKubernetes, authNone)
	case (a.certFile == "") != (a.keyFile == ""):
		return fmt.Errorf("%w: --tls.cert-file and --tls.key-file go together", errUsage)
	case a.clientCAFile != "" && a.certFile == "":
		return fmt.Errorf("%w: --tls.client-ca-file needs --tls.cert-file: client certificates travel over TLS", errUsage)
	case a.mode == authNone && (a.kubeconfig != "" || a.clientCAFile != ""):
		return fmt.Errorf("%w: --auth=none checks no identity: drop --auth.kubeconfig and --tls.client-ca-file, or use --auth=%s", errUsage, authKubernetes)
	}
	return nil
}

// serveAuth is what serve's listeners need to authenticate and authorize:
// the checks, the TLS configuration (nil without --tls.cert-file) and the
// controllers that reload the certificate files, to run until serve ends.
type serveAuth struct {
	auth        *api.Auth
	tls         *tls.Config
	controllers []func(ctx context.Context)
}

// newServeAuth builds the authentication and authorization of REST and
// gRPC from the flags. inCluster means the in-cluster Kubernetes
// configuration is available.
func newServeAuth(log *slog.Logger, o *authOptions, inCluster bool) (*serveAuth, error) {
	s := &serveAuth{}
	opts := &api.AuthOptions{None: o.mode == authNone, AnonymousReads: o.anonymousReads, Logger: log}
	var ca dynamiccertificates.CAContentProvider
	if o.certFile != "" {
		cert, err := dynamiccertificates.NewDynamicServingContentFromFiles("prescale-api", o.certFile, o.keyFile)
		if err != nil {
			return nil, fmt.Errorf("--tls.cert-file: %w", err)
		}
		s.controllers = append(s.controllers, func(ctx context.Context) { cert.Run(ctx, 1) })
		s.tls = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: (&servingCert{content: cert}).get}
		if o.clientCAFile != "" {
			dynCA, err := dynamiccertificates.NewDynamicCAContentFromFile("prescale-client-ca", o.clientCAFile)
			if err != nil {
				return nil, fmt.Errorf("--tls.client-ca-file: %w", err)
			}
			s.controllers = append(s.controllers, func(ctx context.Context) { dynCA.Run(ctx, 1) })
			// The x509 authenticator verifies the chain against the CA as it
			// is now; the handshake only asks for the certificate.
			s.tls.ClientAuth = tls.RequestClientCert
			ca = dynCA
		}
	}
	if opts.None {
		log.Warn("--auth=none: anyone who can connect to the REST and gRPC ports may create, change and delete targets")
	} else {
		var err error
		if opts.Authenticator, opts.Authorizer, err = newAuthChecks(log, o, ca, inCluster); err != nil {
			return nil, err
		}
		if opts.Authenticator != nil && s.tls == nil {
			log.Warn("bearer tokens sent to the REST and gRPC ports travel in clear text: serve them over TLS with --tls.cert-file")
		}
	}
	auth, err := api.NewAuth(opts)
	if err != nil {
		return nil, err
	}
	s.auth = auth
	return s, nil
}

// newAuthChecks returns the authenticator and authorizer of
// --auth=kubernetes: tokens checked with TokenReviews and permissions with
// SubjectAccessReviews on the Kubernetes API, client certificates checked
// against ca. Without a Kubernetes API a client certificate of ca is
// allowed everything; without either, nobody can be identified and every
// write is refused.
func newAuthChecks(log *slog.Logger, o *authOptions, ca dynamiccertificates.CAContentProvider, inCluster bool) (authenticator.Request, authorizer.Authorizer, error) {
	var kube *kubernetes.Clientset
	restCfg, err := kubeConfig("--auth.kubeconfig", o.kubeconfig, inCluster)
	if err != nil {
		return nil, nil, err
	}
	if restCfg != nil {
		if kube, err = kubernetes.NewForConfig(restCfg); err != nil {
			return nil, nil, fmt.Errorf("--auth.kubeconfig: %w", err)
		}
	}
	if kube == nil && ca == nil {
		log.Warn("no way to check identities (no --auth.kubeconfig, not in a cluster, no --tls.client-ca-file): every write to the REST and gRPC APIs is refused; reads are " +
			map[bool]string{true: "open", false: "refused too"}[o.anonymousReads] + "; --auth=none allows everything")
		return nil, nil, nil
	}
	backoff := wait.Backoff{Duration: 500 * time.Millisecond, Factor: 1.5, Jitter: 0.2, Steps: 5}
	cfg := authenticatorfactory.DelegatingAuthenticatorConfig{
		CacheTTL:                           authCacheTTL,
		TokenAccessReviewTimeout:           authTimeout,
		WebhookRetryBackoff:                &backoff,
		ClientCertificateCAContentProvider: ca,
	}
	if kube != nil {
		cfg.TokenAccessReviewClient = kube.AuthenticationV1()
	}
	authn, _, err := cfg.New()
	if err != nil {
		return nil, nil, fmt.Errorf("authentication: %w", err)
	}
	if kube == nil {
		log.Warn("no Kubernetes API to check permissions (no --auth.kubeconfig, not in a cluster): every client certificate of --tls.client-ca-file may do everything")
		return authn, authorizerfactory.NewAlwaysAllowAuthorizer(), nil
	}
	authz, err := authorizerfactory.DelegatingAuthorizerConfig{
		SubjectAccessReviewClient: kube.AuthorizationV1(),
		AllowCacheTTL:             authCacheTTL,
		DenyCacheTTL:              authCacheTTL,
		WebhookRetryBackoff:       &backoff,
	}.New()
	if err != nil {
		return nil, nil, fmt.Errorf("authorization: %w", err)
	}
	return authn, authz, nil
}

// servingCert is the certificate of the REST and gRPC listeners, parsed
// again when its files change.
type servingCert struct {
	content dynamiccertificates.CertKeyContentProvider
	mu      sync.Mutex
	certPEM []byte
	keyPEM  []byte
	cert    *tls.Certificate
}

func (s *servingCert) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	certPEM, keyPEM := s.content.CurrentCertKeyContent()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cert == nil || !bytes.Equal(certPEM, s.certPEM) || !bytes.Equal(keyPEM, s.keyPEM) {
		c, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, fmt.Errorf("--tls.cert-file: %w", err)
		}
		s.cert, s.certPEM, s.keyPEM = &c, certPEM, keyPEM
	}
	return s.cert, nil
}
