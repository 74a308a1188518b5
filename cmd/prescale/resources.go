package main

import (
	"flag"
	"fmt"
	"log/slog"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/prescale/prescale/controller"
	"github.com/prescale/prescale/models/registry"
)

// resourceOptions are the flags of the PredictiveAutoscaler controller.
type resourceOptions struct {
	enabled        bool
	kubeconfig     string
	namespace      string
	statusInterval time.Duration
}

func (r *resourceOptions) bind(fs *flag.FlagSet) {
	fs.BoolVar(&r.enabled, "controller", false, "watch PredictiveAutoscaler resources (prescale.io/v1alpha1, deploy/base/crd.yaml): register each one's target, create and own its HorizontalPodAutoscaler, write its status and Events")
	fs.StringVar(&r.kubeconfig, "controller.kubeconfig", "", "kubeconfig of the Kubernetes API the controller watches; default: the in-cluster config")
	fs.StringVar(&r.namespace, "controller.namespace", "", "watch PredictiveAutoscalers in this namespace only (default: every namespace)")
	durationVar(fs, &r.statusInterval, "controller.status-interval", controller.DefaultStatusInterval, "`duration` between refreshes of each PredictiveAutoscaler's status, and the least time between two writes of it")
}

func (r *resourceOptions) check(demo bool) error {
	switch {
	case !r.enabled && (r.kubeconfig != "" || r.namespace != ""):
		return fmt.Errorf("%w: --controller.kubeconfig and --controller.namespace need --controller", errUsage)
	case r.enabled && demo:
		return fmt.Errorf("%w: --controller needs --prometheus.url: the resources' queries run on Prometheus", errUsage)
	case r.statusInterval <= 0:
		return fmt.Errorf("%w: --controller.status-interval %v: want a positive duration", errUsage, r.statusInterval)
	}
	return nil
}

// kubeConfig is the Kubernetes client configuration a kubeconfig flag
// (named in errors) gives: its file when path is set, else the in-cluster
// configuration when inCluster, else none (nil).
func kubeConfig(flag, path string, inCluster bool) (*rest.Config, error) {
	switch {
	case path != "":
		cfg, err := clientcmd.BuildConfigFromFlags("", path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", flag, err)
		}
		return cfg, nil
	case inCluster:
		cfg, err := rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("in-cluster Kubernetes configuration (no %s): %w", flag, err)
		}
		return cfg, nil
	}
	return nil, nil
}

// newResourceController builds the controller of --controller, or
// returns nil without it. inCluster means the in-cluster configuration
// is available; owns (nil: every target) says which resources' HPA,
// status and Events this replica writes.
func newResourceController(log *slog.Logger, o *resourceOptions, targets *registry.Registry, inCluster bool, owns func(target string) bool) (*controller.Controller, error) {
	if !o.enabled {
		return nil, nil
	}
	cfg, err := kubeConfig("--controller.kubeconfig", o.kubeconfig, inCluster)
	if err != nil {
		return nil, err
	}
	if cfg == nil {
		return nil, fmt.Errorf("%w: --controller outside a cluster (KUBERNETES_SERVICE_HOST is not set) needs --controller.kubeconfig", errUsage)
	}
	cfg.UserAgent = "prescale-controller"
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("--controller: %w", err)
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("--controller: %w", err)
	}
	return controller.New(targets, dyn, kube, &controller.Options{
		Namespace:      o.namespace,
		StatusInterval: o.statusInterval,
		Owns:           owns,
		Logger:         log.With("component", "controller"),
	})
}
