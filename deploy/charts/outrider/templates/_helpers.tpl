{{/*
Names, labels and the checks on values shared by the templates.
*/}}

{{/* outrider.name is the chart name, or nameOverride. */}}
{{- define "outrider.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
outrider.fullname prefixes every object name: fullnameOverride, else the release name when it
already contains the chart name, else "<release>-<chart>". Truncated so that the longest
suffix ("-webhook-cert", 13 characters) still fits a 63-character name.
*/}}
{{- define "outrider.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- $name := include "outrider.name" . }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* outrider.selectorLabels select the controller pods; they never change after install. */}}
{{- define "outrider.selectorLabels" -}}
app.kubernetes.io/name: {{ include "outrider.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller
{{- end }}

{{/* outrider.labels go on every object. */}}
{{- define "outrider.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "outrider.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: outrider
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Object names the controller is told about by flag; one definition each. */}}
{{- define "outrider.certSecret" -}}{{ include "outrider.fullname" . }}-webhook-cert{{- end }}
{{- define "outrider.webhookService" -}}{{ include "outrider.fullname" . }}-webhook{{- end }}
{{- define "outrider.metricsService" -}}{{ include "outrider.fullname" . }}-metrics{{- end }}
{{- define "outrider.validatingWebhook" -}}{{ include "outrider.fullname" . }}-validating{{- end }}
{{- define "outrider.mutatingWebhook" -}}{{ include "outrider.fullname" . }}-mutating{{- end }}
{{- define "outrider.serviceAccount" -}}{{ include "outrider.fullname" . }}-controller{{- end }}

{{/*
outrider.leaseName is the leader-election Lease. The controller names it (LeaderElectionID in
internal/controller/run.go); the Role grants get/update on this name only.
*/}}
{{- define "outrider.leaseName" -}}outrider-controller{{- end }}

{{/* outrider.image is repository:tag, or repository@digest when a digest is set. */}}
{{- define "outrider.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (toString .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
outrider.excludedNamespaces are the namespaces the webhooks never see and the default policy
never judges: kube-system and the release namespace always (so the controller cannot lock the
cluster, or itself, out), then admission.excludeNamespaces. As a YAML flow list.
*/}}
{{- define "outrider.excludedNamespaces" -}}
{{- $ns := list "kube-system" .Release.Namespace }}
{{- range .Values.admission.excludeNamespaces }}
{{- $ns = append $ns (toString .) }}
{{- end }}
{{- toJson (uniq $ns) }}
{{- end }}

{{/* outrider.namespaceSelector is every webhook's namespaceSelector. */}}
{{- define "outrider.namespaceSelector" -}}
namespaceSelector:
  matchExpressions:
    - key: kubernetes.io/metadata.name
      operator: NotIn
      values: {{ include "outrider.excludedNamespaces" . }}
{{- end }}

{{/*
outrider.validate fails the render on values that would make a webhook unsafe or the controller
refuse to start, naming the value and what is allowed.
*/}}
{{- define "outrider.validate" -}}
{{- $t := .Values.admission.timeoutSeconds }}
{{- $whole := and (or (kindIs "float64" $t) (kindIs "int64" $t) (kindIs "int" $t)) (eq (float64 (int $t)) (float64 $t)) }}
{{- if or (not $whole) (lt (int $t) 1) (gt (int $t) 5) }}
{{- fail (printf "admission.timeoutSeconds must be a whole number of seconds from 1 to 5 (a slow webhook stalls every write in the cluster), not %v" $t) }}
{{- end }}
{{- range $key, $v := dict "admission.failurePolicy" .Values.admission.failurePolicy "admission.connectFailurePolicy" .Values.admission.connectFailurePolicy "mutation.failurePolicy" .Values.mutation.failurePolicy }}
{{- if not (has $v (list "Fail" "Ignore")) }}
{{- fail (printf "%s must be Fail or Ignore, not %q" $key (toString $v)) }}
{{- end }}
{{- end }}
{{- if not (has .Values.admission.failOn (list "info" "low" "medium" "high" "critical")) }}
{{- fail (printf "admission.failOn must be info, low, medium, high or critical, not %q" (toString .Values.admission.failOn)) }}
{{- end }}
{{- if not (has .Values.defaultPolicy.mode (list "Enforce" "Warn" "Audit")) }}
{{- fail (printf "defaultPolicy.mode must be Enforce, Warn or Audit, not %q" (toString .Values.defaultPolicy.mode)) }}
{{- end }}
{{- if not (has .Values.defaultPolicy.level (list "restricted" "baseline" "privileged")) }}
{{- fail (printf "defaultPolicy.level must be restricted, baseline or privileged, not %q" (toString .Values.defaultPolicy.level)) }}
{{- end }}
{{- if lt (int .Values.replicas) 1 }}
{{- fail (printf "replicas must be at least 1, not %v" .Values.replicas) }}
{{- end }}
{{- end }}
