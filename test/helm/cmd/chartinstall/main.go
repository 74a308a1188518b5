// Command chartinstall installs deploy/helm/prescale into a cluster with
// the Helm Go SDK, as `helm install` does: the end-to-end test (test/e2e)
// runs it against its real control plane. It is its own program so that
// the end-to-end test's module, which builds the control plane, does not
// link Helm.
//
//	chartinstall --kubeconfig FILE --namespace NS --release NAME [--values FILE] CHART
//
// It creates the namespace, installs the chart and prints the objects it
// created; an install Helm refuses (a template's fail, an object the API
// server refuses) exits 1 with Helm's message.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/kube"
	release "helm.sh/helm/v4/pkg/release/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"sigs.k8s.io/yaml"
)

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig of the cluster")
	namespace := flag.String("namespace", "default", "the release's namespace (created)")
	name := flag.String("release", "prescale", "the release's name")
	valuesFile := flag.String("values", "", "a YAML file of values")
	flag.Parse()
	if flag.NArg() != 1 || *kubeconfig == "" {
		fmt.Fprintln(os.Stderr, "usage: chartinstall --kubeconfig FILE [--namespace NS] [--release NAME] [--values FILE] CHART")
		os.Exit(2)
	}
	if err := install(*kubeconfig, *namespace, *name, *valuesFile, flag.Arg(0)); err != nil {
		fmt.Fprintln(os.Stderr, "chartinstall:", err)
		os.Exit(1)
	}
}

func install(kubeconfig, namespace, name, valuesFile, chartPath string) error {
	ch, err := loader.Load(chartPath)
	if err != nil {
		return err
	}
	values := map[string]any{}
	if valuesFile != "" {
		raw, err := os.ReadFile(valuesFile)
		if err != nil {
			return err
		}
		if err := yaml.Unmarshal(raw, &values); err != nil {
			return fmt.Errorf("%s: %w", valuesFile, err)
		}
	}
	flags := genericclioptions.NewConfigFlags(false)
	flags.KubeConfig, flags.Namespace = &kubeconfig, &namespace
	cfg := action.NewConfiguration()
	cfg.SetLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})).Handler())
	if err := cfg.Init(flags, namespace, "secret"); err != nil {
		return err
	}
	in := action.NewInstall(cfg)
	in.ReleaseName, in.Namespace = name, namespace
	in.CreateNamespace = true
	in.Timeout = 2 * time.Minute
	in.WaitStrategy = kube.HookOnlyStrategy
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rel, err := in.RunWithContext(ctx, ch, values)
	if err != nil {
		return err
	}
	r, ok := rel.(*release.Release)
	if !ok {
		return fmt.Errorf("release is a %T", rel)
	}
	fmt.Printf("installed %s %s as release %s in %s (%s)\n", r.Chart.Metadata.Name, r.Chart.Metadata.Version, r.Name, r.Namespace, r.Info.Status)
	fmt.Print(r.Manifest)
	return nil
}
