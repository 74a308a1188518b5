package controller

import (
	"github.com/prometheus/client_golang/prometheus"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/cache"

	"github.com/prescale/prescale/models"
)

// The replicas of the HPAs the controller made, so that a dashboard can
// set a target's recommendation beside what its workload runs without
// kube-state-metrics or a hand-typed HPA name.
var (
	hpaLabels          = []string{"target", "namespace", "horizontalpodautoscaler"}
	hpaCurrentReplicas = prescaleDesc("prescale_hpa_current_replicas",
		"The current replicas of the HPA prescale made for a PredictiveAutoscaler (its status), by the target it scales on; exported by the replica that writes it.")
	hpaDesiredReplicas = prescaleDesc("prescale_hpa_desired_replicas",
		"The desired replicas of the HPA prescale made for a PredictiveAutoscaler (its status), by the target it scales on; exported by the replica that writes it.")
)

func prescaleDesc(name, help string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, hpaLabels, nil)
}

var _ prometheus.Collector = (*Controller)(nil)

// writtenHPA returns the HPA of resource u when this replica writes it:
// it acts for u, and the HPA of u's name is u's.
func (c *Controller) writtenHPA(u *unstructured.Unstructured) (*autoscalingv2.HorizontalPodAutoscaler, bool) {
	if !c.acts(u) {
		return nil, false
	}
	hpa, err := c.hpaLister.HorizontalPodAutoscalers(u.GetNamespace()).Get(u.GetName())
	if err != nil {
		return nil, false
	}
	if ref := metav1.GetControllerOf(hpa); ref == nil || ref.UID != u.GetUID() {
		return nil, false // not the resource's: reported as a conflict
	}
	return hpa, true
}

// CurrentReplicas returns the current replicas of the workload that the
// PredictiveAutoscaler of target scales, as the HPA this replica writes
// for it reports them; false when it writes none (registry.Workloads).
func (c *Controller) CurrentReplicas(target string) (int32, bool) {
	if !c.synced.Load() {
		return 0, false
	}
	c.mu.Lock()
	key, ok := c.owners[target]
	c.mu.Unlock()
	if !ok {
		return 0, false
	}
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return 0, false
	}
	var obj runtime.Object
	if ns == "" {
		obj, err = c.resLister.Get(name)
	} else {
		obj, err = c.resLister.ByNamespace(ns).Get(name)
	}
	u, ok := obj.(*unstructured.Unstructured)
	if err != nil || !ok {
		return 0, false
	}
	hpa, ok := c.writtenHPA(u)
	if !ok {
		return 0, false
	}
	return hpa.Status.CurrentReplicas, true
}

// Describe sends the descriptions of the HPA metrics.
func (c *Controller) Describe(ch chan<- *prometheus.Desc) {
	ch <- hpaCurrentReplicas
	ch <- hpaDesiredReplicas
}

// Collect sends the replicas of every HPA this replica writes (one owned
// by its PredictiveAutoscaler), read from the informer's cache.
func (c *Controller) Collect(ch chan<- prometheus.Metric) {
	if !c.synced.Load() {
		return
	}
	objs, err := c.resLister.List(labels.Everything())
	if err != nil {
		return
	}
	for _, o := range objs {
		u, ok := o.(*unstructured.Unstructured)
		if !ok {
			continue
		}
		hpa, ok := c.writtenHPA(u)
		if !ok {
			continue
		}
		labels := []string{models.ObjectTargetName(u.GetNamespace(), u.GetName()), hpa.Namespace, hpa.Name}
		ch <- prometheus.MustNewConstMetric(hpaCurrentReplicas, prometheus.GaugeValue, float64(hpa.Status.CurrentReplicas), labels...)
		ch <- prometheus.MustNewConstMetric(hpaDesiredReplicas, prometheus.GaugeValue, float64(hpa.Status.DesiredReplicas), labels...)
	}
}
