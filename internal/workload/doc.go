// Package workload decodes Kubernetes manifests (multi-document YAML, JSON, Lists) into objects
// that remember where they came from, and finds the pod spec inside every kind that carries one
// (Pod, Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob, ReplicationController,
// PodTemplate), with the field path of each container in all three container lists.
package workload
