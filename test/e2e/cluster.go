package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// cluster is etcd, kube-apiserver and kube-controller-manager on loopback,
// without kubelet or scheduler: Deployments and ReplicaSets get their
// replica counts and Pods stay Pending, which is all an HPA needs.
type cluster struct {
	Dir            string
	PKI            *pki
	Server         string // https://127.0.0.1:port of kube-apiserver
	AdminConfig    string // kubeconfig of a system:masters user
	PrescaleConfig string // kubeconfig of the user "prescale"
	Admin          *kubernetes.Clientset
	AdminREST      *rest.Config

	Etcd, APIServer, ControllerManager *proc
}

// clusterOptions are the HPA controller's settings.
type clusterOptions struct {
	HPASyncPeriod             time.Duration
	HPADownscaleStabilization time.Duration
}

// startEtcd runs etcd with its data in dir, on free loopback ports.
func startEtcd(dir, bin string) (*proc, string, error) {
	client, err := freeAddr()
	if err != nil {
		return nil, "", err
	}
	peer, err := freeAddr()
	if err != nil {
		return nil, "", err
	}
	url := "http://" + client
	p, err := startProc("etcd", dir, filepath.Join(dir, "etcd.log"), bin,
		"--name=e2e",
		"--data-dir="+filepath.Join(dir, "etcd"),
		"--listen-client-urls="+url, "--advertise-client-urls="+url,
		"--listen-peer-urls=http://"+peer, "--initial-advertise-peer-urls=http://"+peer,
		"--initial-cluster=e2e=http://"+peer,
		"--log-level=warn",
	)
	return p, url, err
}

// startAPIServer runs kube-apiserver against etcdURL with the front proxy
// (aggregator) configured, and returns once /readyz answers.
func startAPIServer(ctx context.Context, c *cluster, bin, etcdURL string) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	c.Server = "https://127.0.0.1:" + strconv.Itoa(port)
	k := c.PKI
	c.APIServer, err = startProc("kube-apiserver", c.Dir, filepath.Join(c.Dir, "kube-apiserver.log"), bin,
		"--etcd-servers="+etcdURL,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", "--secure-port="+strconv.Itoa(port),
		"--endpoint-reconciler-type=none",
		"--tls-cert-file="+k.APIServerCert, "--tls-private-key-file="+k.APIServerKey,
		"--client-ca-file="+k.CACert,
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file="+k.ServiceAccountPub,
		"--service-account-signing-key-file="+k.ServiceAccountKey,
		"--service-cluster-ip-range=10.0.0.0/24",
		"--authorization-mode=Node,RBAC",
		// The aggregator: it proxies external.metrics.k8s.io to prescale
		// with this client certificate and the user in these headers.
		"--requestheader-client-ca-file="+k.FrontProxyCA,
		"--requestheader-allowed-names=front-proxy-client",
		"--requestheader-username-headers=X-Remote-User",
		"--requestheader-group-headers=X-Remote-Group",
		"--requestheader-extra-headers-prefix=X-Remote-Extra-",
		"--proxy-client-cert-file="+k.FrontProxyCert, "--proxy-client-key-file="+k.FrontProxyKey,
		// No service account controller runs: let the ReplicaSet
		// controller create Pods without waiting for a default account.
		"--disable-admission-plugins=ServiceAccount",
	)
	if err != nil {
		return err
	}
	c.AdminConfig = filepath.Join(c.Dir, "admin.kubeconfig")
	c.PrescaleConfig = filepath.Join(c.Dir, "prescale.kubeconfig")
	if err := writeKubeconfig(c.AdminConfig, c.Server, k.CACert, k.AdminCert, k.AdminKey); err != nil {
		return err
	}
	if err := writeKubeconfig(c.PrescaleConfig, c.Server, k.CACert, k.PrescaleUserCert, k.PrescaleUserKey); err != nil {
		return err
	}
	if c.AdminREST, err = clientcmd.BuildConfigFromFlags("", c.AdminConfig); err != nil {
		return err
	}
	if c.Admin, err = kubernetes.NewForConfig(c.AdminREST); err != nil {
		return err
	}
	return c.waitReady(ctx, c.APIServer, 90*time.Second)
}

// waitReady polls kube-apiserver's /readyz until it answers ok, p exits,
// or timeout passes.
func (c *cluster) waitReady(ctx context.Context, p *proc, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last string
	for {
		body, err := c.Admin.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		if err == nil {
			return nil
		}
		last = fmt.Sprintf("%v %s", err, body)
		select {
		case <-p.Exited():
			return fmt.Errorf("%s exited before it was ready: %v\n%s", p.Name, p.ExitErr(), p.LogTail(4<<10))
		case <-ctx.Done():
			return fmt.Errorf("kube-apiserver not ready after %v: %s\n%s", timeout, last, p.LogTail(4<<10))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// startControllerManager runs the HPA, Deployment and ReplicaSet
// controllers and the garbage collector. Each controller calls kube-apiserver as its own service
// account (--use-service-account-credentials), so the HPA reaches prescale
// as system:serviceaccount:kube-system:horizontal-pod-autoscaler with only
// the RBAC the cluster gives it, as in a real cluster.
func startControllerManager(c *cluster, bin string, o clusterOptions) error {
	var err error
	c.ControllerManager, err = startProc("kube-controller-manager", c.Dir, filepath.Join(c.Dir, "kube-controller-manager.log"), bin,
		"--kubeconfig="+c.AdminConfig,
		// The garbage collector deletes an HPA with its PredictiveAutoscaler.
		"--controllers=horizontalpodautoscaling,deployment-controller,replicaset-controller,garbage-collector-controller",
		"--horizontal-pod-autoscaler-sync-period="+o.HPASyncPeriod.String(),
		"--horizontal-pod-autoscaler-downscale-stabilization="+o.HPADownscaleStabilization.String(),
		"--use-service-account-credentials=true",
		"--root-ca-file="+c.PKI.CACert,
		"--leader-elect=false", "--secure-port=0",
	)
	return err
}

// writeFile writes data to dir/name and returns the path.
func writeFile(dir, name string, data []byte) (string, error) {
	path := filepath.Join(dir, name)
	return path, os.WriteFile(path, data, 0o644)
}
