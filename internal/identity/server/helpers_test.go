package server_test

import (
	corev1 "k8s.io/api/core/v1"
)

var podsGVR = corev1.SchemeGroupVersion.WithResource("pods")
