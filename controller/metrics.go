package controller

import (
	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"

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
		if !ok || !c.acts(u) {
			continue
		}
		hpa, err := c.hpaLister.HorizontalPodAutoscalers(u.GetNamespace()).Get(u.GetName())
		if err != nil {
			continue
		}
		if ref := metav1.GetControllerOf(hpa); ref == nil || ref.UID != u.GetUID() {
			continue // not the resource's: reported as a conflict
		}
		labels := []string{models.ObjectTargetName(u.GetNamespace(), u.GetName()), hpa.Namespace, hpa.Name}
		ch <- prometheus.MustNewConstMetric(hpaCurrentReplicas, prometheus.GaugeValue, float64(hpa.Status.CurrentReplicas), labels...)
		ch <- prometheus.MustNewConstMetric(hpaDesiredReplicas, prometheus.GaugeValue, float64(hpa.Status.DesiredReplicas), labels...)
	}
}
