package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// The chart's release: deploy/helm/prescale installed as "prescale" in
// prescale-system, as deploy/README.md says.
const (
	chartDir       = "../../deploy/helm/prescale"
	chartNamespace = "prescale-system"
	chartRelease   = "prescale"
)

// installChart installs the Helm chart with chartinstall (Helm's Go SDK)
// on the control plane, for a prescale that runs outside the cluster on
// loopback: its Service is an ExternalName for localhost and the
// APIService names securePort; everything else is the chart's defaults
// with no targets of the config file (the workloads are declared as
// PredictiveAutoscalers) and a status interval of 5 seconds. It returns
// chartinstall's output.
func installChart(ctx context.Context, bin, kubeconfig, dir string, securePort int, promURL string, extra string) (string, error) {
	values := fmt.Sprintf(`prometheus: {url: %q}
service: {externalName: localhost}
externalMetrics: {port: %d}
controller: {statusInterval: 5s}
%s`, promURL, securePort, extra)
	file := filepath.Join(dir, "values.yaml")
	if err := os.WriteFile(file, []byte(values), 0o644); err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "--kubeconfig", kubeconfig, "--namespace", chartNamespace,
		"--release", chartRelease, "--values", file, chartDir).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("chartinstall: %w\n%s", err, out)
	}
	return string(out), nil
}

// chartPrescaleArgs are the arguments of the chart's Deployment, turned
// into those of a process on this machine: its config file, data and
// certificate directories here, its external metrics API on securePort,
// its name among the replicas member (--cluster.member, for POD_NAME),
// and the cluster reached with kubeconfig (the ServiceAccount's token)
// instead of the in-cluster configuration. It returns the arguments, the
// Deployment's as they were, and the targets file written.
func chartPrescaleArgs(ctx context.Context, c *cluster, dir, kubeconfig string, securePort int, member string) (args, chartArgs []string, err error) {
	dep, err := c.Admin.AppsV1().Deployments(chartNamespace).Get(ctx, chartRelease, metav1.GetOptions{})
	if err != nil {
		return nil, nil, err
	}
	chartArgs = dep.Spec.Template.Spec.Containers[0].Args
	if len(chartArgs) == 0 || chartArgs[0] != "serve" {
		return nil, chartArgs, fmt.Errorf("the chart's Deployment runs %q, want serve", chartArgs)
	}
	cm, err := c.Admin.CoreV1().ConfigMaps(chartNamespace).Get(ctx, chartRelease+"-targets", metav1.GetOptions{})
	if err != nil {
		return nil, chartArgs, err
	}
	config, err := writeFile(dir, "targets.yaml", []byte(cm.Data["targets.yaml"]))
	if err != nil {
		return nil, chartArgs, err
	}
	local := map[string]string{
		"--config":      config,
		"--data-dir":    filepath.Join(dir, "data"),
		"--cert-dir":    filepath.Join(dir, "certs"),
		"--secure-port": strconv.Itoa(securePort),
	}
	for i := 1; i < len(chartArgs); i++ {
		a := chartArgs[i]
		if v, ok := local[a]; ok && i+1 < len(chartArgs) {
			args = append(args, a+"="+v)
			i++
			continue
		}
		args = append(args, a)
	}
	if slices.Contains(chartArgs, "--cluster") {
		// POD_NAME and POD_NAMESPACE come from the pod's metadata there.
		args = append(args, "--cluster.kubeconfig="+kubeconfig, "--cluster.namespace="+chartNamespace, "--cluster.member="+member)
	}
	args = append(args,
		"--bind-address=127.0.0.1",
		"--controller.kubeconfig="+kubeconfig,
		"--lister-kubeconfig="+kubeconfig,
		"--authentication-kubeconfig="+kubeconfig,
		"--authorization-kubeconfig="+kubeconfig,
		"--auth.kubeconfig="+kubeconfig,
	)
	return args, chartArgs, nil
}

// serviceAccountKubeconfig writes a kubeconfig that acts as the chart's
// ServiceAccount, with a token from the TokenRequest API: prescale then
// has exactly the RBAC the chart gives it.
func serviceAccountKubeconfig(ctx context.Context, c *cluster, file string) error {
	sa := "prescale"
	expiry := int64(2 * 3600)
	tok, err := c.Admin.CoreV1().ServiceAccounts(chartNamespace).CreateToken(ctx, sa, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &expiry},
	}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("token of ServiceAccount %s/%s: %w", chartNamespace, sa, err)
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["e2e"] = &clientcmdapi.Cluster{Server: c.Server, CertificateAuthority: c.PKI.CACert}
	cfg.AuthInfos[sa] = &clientcmdapi.AuthInfo{Token: tok.Status.Token}
	cfg.Contexts["e2e"] = &clientcmdapi.Context{Cluster: "e2e", AuthInfo: sa}
	cfg.CurrentContext = "e2e"
	return clientcmd.WriteToFile(*cfg, file)
}

// objectsOf lists the kinds and names of a manifest, for the log.
func objectsOf(manifest string) string {
	var out []string
	var kind string
	for _, line := range strings.Split(manifest, "\n") {
		switch {
		case strings.HasPrefix(line, "kind: "):
			kind = strings.TrimPrefix(line, "kind: ")
		case strings.HasPrefix(line, "  name: ") && kind != "":
			out = append(out, kind+"/"+strings.TrimPrefix(line, "  name: "))
			kind = ""
		}
	}
	return strings.Join(out, ", ")
}
