{{/* The name of every object: the release's, or "prescale" when the release is named so. */}}
{{- define "prescale.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels of every object; the selector labels are deploy/base's. */}}
{{- define "prescale.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "prescale.labels" -}}
{{ include "prescale.selectorLabels" . }}
app.kubernetes.io/part-of: prescale
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* The controller needs the external metrics API: its HPAs read prescale's metric. */}}
{{- define "prescale.controller" -}}
{{- if and .Values.controller.enabled .Values.externalMetrics.enabled -}}true{{- end -}}
{{- end -}}
