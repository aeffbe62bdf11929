{{/*
Names. The full name is the release name when it already contains the chart name (`helm install
cph-route-operator ...` gives the names deploy/ uses), else "<release>-cph-route-operator".
*/}}
{{- define "cph-route-operator.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "cph-route-operator.fullname" -}}
{{- if contains .Chart.Name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "cph-route-operator.serviceAccountName" -}}
{{- default (include "cph-route-operator.fullname" .) .Values.serviceAccount.name }}
{{- end }}

{{/* Labels on every object: deploy/'s name and component, Helm's recommended ones. */}}
{{- define "cph-route-operator.labels" -}}
app.kubernetes.io/name: {{ include "cph-route-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: cph-route-operator
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end }}

{{/* The operator pods' selector: never changes after the first install (a Deployment's selector is immutable). */}}
{{- define "cph-route-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "cph-route-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{/* The image: repository, then the tag (appVersion by default), then the digest, which pins it. */}}
{{- define "cph-route-operator.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- if .Values.image.digest -}}
{{- if .Values.image.tag }}{{ printf "%s:%s@%s" .Values.image.repository $tag .Values.image.digest }}{{ else }}{{ printf "%s@%s" .Values.image.repository .Values.image.digest }}{{ end -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end -}}
{{- end }}

{{/*
The rules on namespaced kinds, the same as deploy/base/rbac/role.yaml (see there for why each is there):
a ClusterRole when every namespace is watched, a Role in each watched namespace otherwise.
*/}}
{{- define "cph-route-operator.namespacedRules" -}}
- apiGroups: ["cloudphone.dev"]
  resources: ["cloudphoneroutes"]
  verbs: ["get", "list", "watch", "update", "patch"]
- apiGroups: ["cloudphone.dev"]
  resources: ["cloudphoneroutes/status"]
  verbs: ["get", "update", "patch"]
- apiGroups: ["cloudphone.dev"]
  resources: ["cloudphoneroutes/finalizers"]
  verbs: ["update"]
- apiGroups: ["cloudphone.dev"]
  resources: ["cloudphoneaccounts"]
  verbs: ["list", "watch"]
- apiGroups: ["cloudphone.dev"]
  resources: ["cloudphoneaccounts/status"]
  verbs: ["patch"]
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end }}

{{- define "cph-route-operator.secretReaderRules" -}}
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get"]
{{- end }}

{{- define "cph-route-operator.subjects" -}}
- kind: ServiceAccount
  name: {{ include "cph-route-operator.serviceAccountName" . }}
  namespace: {{ .Release.Namespace }}
{{- end }}

{{/*
"true" when the chart renders the default account. With crds.templated the CRDs are created by this very
release, and Helm builds every object of a release before it creates any: a ClusterCloudPhoneAccount in the
first install would fail ("no matches for kind"). So then the account is rendered once the cluster serves
its kind, i.e. from the next `helm upgrade` on (NOTES.txt says so); Argo CD's next sync does the same.
*/}}
{{- define "cph-route-operator.rendersDefaultAccount" -}}
{{- $account := .Values.defaultAccount -}}
{{- $served := or (not .Values.crds.templated) (.Capabilities.APIVersions.Has "cloudphone.dev/v1alpha1/ClusterCloudPhoneAccount") -}}
{{- if and $account.create $account.name $served }}true{{ end -}}
{{- end }}
