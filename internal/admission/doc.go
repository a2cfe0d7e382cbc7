// Package admission decides admission requests with the policy engine: workloads of every
// kind (judged at the workload, all container lists counted), ephemeral containers added with
// `kubectl debug`, and exec/attach/port-forward into pods that could reach the host. The
// decisions here know nothing of HTTP; handler.go adapts them to controller-runtime's webhook
// server, and records each decision (log line, Event, metrics).
package admission
