{{/* Labels on every object; the selector labels are the ones manifests/ uses, so a kustomize
     install and a Helm install select the same pods. */}}
{{- define "sluice.selectorLabels" -}}
app.kubernetes.io/name: sluice
{{- end }}

{{- define "sluice.labels" -}}
{{ include "sluice.selectorLabels" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end }}

{{- define "sluice.image" -}}
{{ printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "sluice.serviceAccount" -}}
system:serviceaccount:{{ .Release.Namespace }}:sluice-controller
{{- end }}

{{/* The documents of a multi-document YAML file of the chart, parsed; comments and empty documents dropped. */}}
{{- define "sluice.documents" -}}
{{- $docs := list }}
{{- range $doc := splitList "\n---" . }}
{{- $o := fromYaml $doc }}
{{- if $o.kind }}{{ $docs = append $docs $o }}{{ end }}
{{- end }}
{{- toJson $docs }}
{{- end }}
